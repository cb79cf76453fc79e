import hypothesis
import keras_hub
import numpy as np
import pytest
import sentencepiece
from hypothesis import strategies as st

from keras_mathft.data import PromptTemplate
from keras_mathft.data.embedded_tokenizer import EMBEDDED_VOCAB_SIZE
from keras_mathft.data.embedded_tokenizer import embedded_tokenizer_proto
from keras_mathft.data.embedded_tokenizer import train_tokenizer
from keras_mathft.data.synthetic import make_synthetic_problems

pytestmark = pytest.mark.backend_independent


def _processor(proto):
    return sentencepiece.SentencePieceProcessor(model_proto=proto)


def _task_texts(num=100):
    template = PromptTemplate()
    texts = []
    for style in ("detailed", "terse"):
        for p in make_synthetic_problems(num, seed=11, style=style):
            texts.append(template.generation_prompt(p.problem) + p.solution)
            texts.append(
                template.evaluation_prompt(p.problem, p.solution)
                + template.correct_label
            )
    return texts


@pytest.fixture(scope="module")
def sp():
    return _processor(embedded_tokenizer_proto())


def test_training_is_deterministic():
    texts = _task_texts(50)
    first = train_tokenizer(texts, vocab_size=400)
    assert train_tokenizer(texts, vocab_size=400) == first
    assert train_tokenizer(texts, vocab_size=420) != first


def test_embedded_proto_is_cached_and_reproducible():
    from keras_mathft.data.embedded_tokenizer import _embedded_corpus

    proto = embedded_tokenizer_proto()
    assert embedded_tokenizer_proto() is proto
    assert train_tokenizer(_embedded_corpus()) == proto
    assert _processor(proto).vocab_size() == EMBEDDED_VOCAB_SIZE


def test_special_pieces_have_gemma_ids(sp):
    assert [sp.id_to_piece(i) for i in range(4)] == [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
    ]
    assert (sp.pad_id(), sp.eos_id(), sp.bos_id(), sp.unk_id()) == (0, 1, 2, 3)


def test_digits_are_single_tokens(sp):
    assert sp.encode("x=20481", out_type=str)[-5:] == ["2", "0", "4", "8", "1"]
    for piece in (sp.id_to_piece(i) for i in range(sp.vocab_size())):
        if any(c.isdigit() for c in piece) and not piece.startswith("<"):
            assert len(piece.strip("\u2581")) == 1, piece


def test_task_texts_round_trip(sp):
    for text in _task_texts():
        assert sp.decode(sp.encode(text)) == text


@hypothesis.settings(max_examples=50, deadline=None)
@hypothesis.given(
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="▁")
    )
)
def test_any_text_round_trips(sp, text):
    # Byte fallback and identity normalization keep every character; only
    # "▁" (U+2581) itself is lost, as SentencePiece uses it for spaces.
    assert sp.decode(sp.encode(text)) == text


def test_task_texts_are_short(sp):
    template = PromptTemplate()
    lengths = {}
    for style in ("detailed", "coarse", "terse"):
        problems = make_synthetic_problems(300, seed=12, style=style)
        lengths[style] = [len(sp.encode(p.solution)) for p in problems]
        full = [
            len(sp.encode(template.generation_prompt(p.problem) + p.solution))
            for p in problems
        ]
        assert np.percentile(full, 95) <= 128
    assert np.mean(lengths["detailed"]) < 50
    assert max(lengths["terse"]) < 20
    assert np.mean(lengths["terse"]) * 3 < np.mean(lengths["detailed"])
    # Coarse solutions combine steps: fewer tokens, more than the answer.
    assert (
        np.mean(lengths["terse"])
        < np.mean(lengths["coarse"])
        < np.mean(lengths["detailed"])
    )


def test_label_words_are_distinct_single_tokens(sp):
    template = PromptTemplate()
    prompt = template.evaluation_prompt("Compute $1 + 2$.", "\\boxed{3}")
    base = sp.encode(prompt)
    correct = sp.encode(prompt + template.correct_label)
    incorrect = sp.encode(prompt + template.incorrect_label)
    assert correct[: len(base)] == base == incorrect[: len(base)]
    assert len(correct) == len(incorrect) == len(base) + 1
    assert correct[-1] != incorrect[-1]


def test_gemma_tokenizer_accepts_the_proto():
    tokenizer = keras_hub.models.GemmaTokenizer(
        proto=embedded_tokenizer_proto()
    )
    assert tokenizer.vocabulary_size() == EMBEDDED_VOCAB_SIZE
    assert tokenizer.pad_token_id == 0
    assert tokenizer.end_token_id == 1
    assert tokenizer.start_token_id == 2
    texts = _task_texts(5)
    ids = tokenizer(texts)
    decoded = tokenizer.detokenize(ids)
    decoded = [
        d.decode("utf-8") if isinstance(d, bytes) else str(d)
        for d in np.asarray(decoded).tolist()
    ]
    assert decoded == texts


@pytest.mark.parametrize(
    "texts, vocab_size, message",
    [
        ([], 300, "texts"),
        (["", ""], 300, "texts"),
        (["1 + 1 = 2"], 100, "vocab_size"),
        (["1 + 1 = 2"], 300.0, "vocab_size"),
        ([chr(0x4E00 + i) for i in range(100)], 300, "vocab_size"),
    ],
)
def test_bad_arguments_raise(texts, vocab_size, message):
    with pytest.raises(ValueError, match=f"`{message}`.*Received"):
        train_tokenizer(texts, vocab_size=vocab_size)
