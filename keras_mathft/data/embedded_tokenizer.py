"""SentencePiece tokenizers trained offline, with no download.

`train_tokenizer` trains a SentencePiece model on any texts, with the
special pieces keras-hub's `GemmaTokenizer` expects (`<pad>`=0, `<eos>`=1,
`<bos>`=2, `<unk>`=3), digits split one per token, byte fallback so that
any text is encodable, and no normalization so that decoding gives back
the exact text (spaces and newlines included). `embedded_tokenizer_proto`
is the tokenizer of the embedded task, trained on a fixed generated corpus
at first use and kept in memory.
"""

import functools
import io

import sentencepiece

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.data.synthetic import make_synthetic_problems

EMBEDDED_VOCAB_SIZE = 512
# The embedded corpus: fixed, so the tokenizer is the same on every machine.
_CORPUS_SEED = 20231001
_CORPUS_PROBLEMS = 2000


def train_tokenizer(texts, *, vocab_size=EMBEDDED_VOCAB_SIZE):
    """Trains a SentencePiece model for keras-hub's `GemmaTokenizer`.

    Training is deterministic (one thread, texts in the order given, no
    sampling of the input) so the same texts give the same bytes. The
    model is a unigram model with `<pad>`=0, `<eos>`=1, `<bos>`=2,
    `<unk>`=3, single-digit pieces, a newline piece, byte fallback and
    identity normalization, so `detokenize(tokenize(text)) == text` for
    any text.

    Args:
        texts: iterable of str. The training texts; newlines are kept.
        vocab_size: int. The largest vocabulary size; it must leave room
            for the 256 byte pieces and the special pieces. The trained
            vocabulary may be smaller when the texts have few distinct
            pieces.

    Returns:
        bytes: the serialized SentencePiece model proto, e.g. for
        `keras_hub.models.GemmaTokenizer(proto=...)`.

    Raises:
        ValueError: if `texts` is empty or `vocab_size` is too small.

    Example:

    >>> proto = train_tokenizer(["1 + 2 = \\\\boxed{3}"] * 10)
    >>> isinstance(proto, bytes)
    True
    """
    texts = [str(t) for t in texts]
    if not any(texts):
        raise ValueError(
            f"`texts` must hold at least one non-empty text. Received: "
            f"{len(texts)} texts"
        )
    minimum = 256 + len(_SPECIALS) + len(_USER_SYMBOLS) + 1
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise ValueError(f"`vocab_size` must be an int. Received: {vocab_size}")
    if vocab_size < minimum:
        raise ValueError(
            f"`vocab_size` must be at least {minimum} (256 byte pieces, "
            f"special pieces and at least one learned piece). Received: "
            f"{vocab_size}"
        )
    model = io.BytesIO()
    try:
        _train(texts, model, vocab_size)
    except RuntimeError as error:
        # SentencePiece needs one piece per distinct character of `texts`.
        raise ValueError(
            "`vocab_size` is too small for the characters in `texts`: "
            f"{error}. Received: {vocab_size}"
        ) from None
    return model.getvalue()


def _train(texts, model, vocab_size):
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        num_threads=1,
        # Keep every text, in order: sampling would depend on a seed.
        input_sentence_size=0,
        shuffle_input_sentence=False,
        max_sentence_length=1 << 16,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        split_digits=True,
        byte_fallback=True,
        allow_whitespace_only_pieces=True,
        user_defined_symbols=list(_USER_SYMBOLS),
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        minloglevel=2,
    )


@functools.lru_cache(maxsize=None)
def embedded_tokenizer_proto(vocab_size=EMBEDDED_VOCAB_SIZE):
    """Returns the embedded task's SentencePiece proto.

    Trained at first use (about a second) on a fixed corpus: the problems
    and the detailed and terse solutions of `make_synthetic_problems` with
    a fixed seed, wrapped in the default generation and evaluation prompts; then
    kept in memory. The same `vocab_size` gives the same bytes.

    Args:
        vocab_size: int. See `train_tokenizer`.

    Returns:
        bytes: the serialized SentencePiece model proto.

    Example:

    >>> import keras_hub
    >>> tokenizer = keras_hub.models.GemmaTokenizer(
    ...     proto=embedded_tokenizer_proto()
    ... )
    """
    return train_tokenizer(_embedded_corpus(), vocab_size=vocab_size)


_SPECIALS = ("<pad>", "<eos>", "<bos>", "<unk>")
_USER_SYMBOLS = ("\n",)


def _embedded_corpus():
    template = PromptTemplate()
    texts = []
    # The styles the corpus was first trained on: a style added later
    # (`"coarse"` uses the same symbols) must not change the vocabulary.
    for style in ("detailed", "terse"):
        problems = make_synthetic_problems(
            _CORPUS_PROBLEMS, seed=_CORPUS_SEED, style=style
        )
        for i, p in enumerate(problems):
            texts.append(template.generation_prompt(p.problem) + p.solution)
            if i % 2 == 0:
                label = (template.correct_label, template.incorrect_label)
                texts.append(
                    template.evaluation_prompt(p.problem, p.solution)
                    + label[i % 4 // 2]
                )
    return texts
