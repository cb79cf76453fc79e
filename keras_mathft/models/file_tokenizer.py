"""The byte-level BPE tokenizer a model file declares, split like llama.cpp.

A GGUF file names its BPE pre-tokenizer (`tokenizer.ggml.pre`: `smollm`,
`llama-bpe`, `qwen2`, `gpt-2`, ...), its special tokens and whether a start
token is added. keras-hub's BPE tokenizers use one split pattern for
every family and fixed special tokens, so a SmolLM2 file loaded into a
`Llama3Tokenizer` splits `"Enter  your"` and `"\\n\\n"` differently from
llama.cpp and looks for Llama 3's header tokens. `FileBPETokenizer`
takes all of that from the file, keeps it through a preset save and load,
and tokenizes with the Hugging Face `tokenizers` library (Rust; keras-hub
depends on it) set up as llama.cpp's pre-tokenizer: the same regular
expressions, applied in turn, text between matches kept as pieces.

The regular expressions are llama.cpp's (`src/llama-vocab.cpp`); Llama 3's
pre-tokenizer also takes a piece that is a whole vocabulary entry as it is
(`ignore_merges`). Control and user-defined tokens are matched whole in
the text, as by llama.cpp with `parse_special=true`, transformers and
keras-hub.
"""

import keras
import keras_hub
import numpy as np
import tokenizers

# llama.cpp's GPT-2 split, shared by several pre-tokenizers.
_GPT2 = (
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
)
_LLAMA3 = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
    r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = _LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
# `tokenizer.ggml.pre` -> (regular expressions in order, ignore_merges,
# whether a start token is added when the file does not say).
PRETOKENIZERS = {
    "gpt-2": ((_GPT2,), False, False),
    "smollm": ((r"\p{N}", _GPT2), False, False),
    "llama-bpe": ((_LLAMA3,), True, True),
    "llama3": ((_LLAMA3,), True, True),
    "llama-v3": ((_LLAMA3,), True, True),
    "qwen2": ((_QWEN2,), False, False),
}


def check_pretokenizer(name, source="the tokenizer"):
    """Refuses a pre-tokenizer name this module does not implement.

    Args:
        name: the `tokenizer.ggml.pre` value.
        source: what declared it, for the message.

    Raises:
        ValueError: naming the value and the supported ones.
    """
    if name not in PRETOKENIZERS:
        raise ValueError(
            f"{source} declares the BPE pre-tokenizer {name!r}, which "
            "keras_mathft does not implement, and splitting text another "
            "way would change every token id. Supported "
            f"`tokenizer.ggml.pre` values: {sorted(PRETOKENIZERS)}. "
            f"Received: {name!r}"
        )


@keras.saving.register_keras_serializable(package="keras_mathft")
class FileBPETokenizer(keras_hub.tokenizers.BytePairTokenizer):
    """A byte-level BPE tokenizer with the pre-tokenizer and special tokens
    of the file it came from.

    Args:
        vocabulary: dict (token -> id) or a `vocabulary.json` path.
        merges: list of `"a b"` merge rules or a `merges.txt` path.
        pretokenizer: one of `PRETOKENIZERS` (llama.cpp's names).
        end_token: the end-of-text token.
        start_token: the beginning-of-text token, or None.
        add_start_token: whether the file adds `start_token` before a
            text; when False `start_token_id` is None, so keras-hub's
            packers and `keras_mathft.data.tokenize_pairs` add none.
        pad_token: the padding token, or None (id 0 pads then).
        special_tokens: tokens matched whole in text (the file's control
            and user-defined tokens).
        **kwargs: passed to `keras_hub.tokenizers.BytePairTokenizer`.

    Example:

    >>> vocab = {"<|endoftext|>": 0, "a": 1, "b": 2, "ab": 3, "Ġ": 4,
    ...          "1": 5, "Ġab": 6}
    >>> tokenizer = FileBPETokenizer(
    ...     vocab, ["a b", "Ġ ab"], pretokenizer="smollm",
    ...     end_token="<|endoftext|>")
    >>> tokenizer.tokenize("ab 11").tolist()
    [3, 4, 5, 5]
    """

    def __init__(
        self,
        vocabulary=None,
        merges=None,
        pretokenizer="gpt-2",
        end_token=None,
        start_token=None,
        add_start_token=False,
        pad_token=None,
        special_tokens=(),
        **kwargs,
    ):
        check_pretokenizer(pretokenizer)
        self.pretokenizer = pretokenizer
        self.special_token_list = list(special_tokens)
        self.bos_token = start_token
        self.add_start_token = bool(add_start_token)
        if end_token is None:
            raise ValueError(
                "`end_token` must name the end-of-text token. Received: "
                "end_token=None"
            )
        self._add_special_token(end_token, "end_token")
        if add_start_token and start_token is not None:
            self._add_special_token(start_token, "start_token")
        else:
            self.start_token = None
            self.start_token_id = None
        if pad_token is not None:
            self._add_special_token(pad_token, "pad_token")
        else:
            self.pad_token = None
            self.pad_token_id = 0
        kwargs.setdefault(
            "unsplittable_tokens",
            sorted(set(self.special_token_list) | {end_token}),
        )
        super().__init__(vocabulary=vocabulary, merges=merges, **kwargs)

    def _set_vocabulary_and_merges_tf(self, vocabulary, merges):
        # Text is never split by TensorFlow here (see `tokenize`): keep the
        # data, build no TF lookup tables.
        self.vocabulary = vocabulary.copy()
        self.merges = merges

    def _set_vocabulary_and_merges_tokenizers(self, vocabulary, merges):
        self.vocabulary = vocabulary.copy()
        self.merges = merges
        regexes, ignore_merges, _ = PRETOKENIZERS[self.pretokenizer]
        pairs = [tuple(m.split(" ")) for m in merges if "#version" not in m]
        model = tokenizers.models.BPE(
            vocab=vocabulary, merges=pairs, ignore_merges=ignore_merges
        )
        tokenizer = tokenizers.Tokenizer(model)
        tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Sequence(
            [
                tokenizers.pre_tokenizers.Split(
                    tokenizers.Regex(regex), behavior="isolated"
                )
                for regex in regexes
            ]
            + [
                tokenizers.pre_tokenizers.ByteLevel(
                    add_prefix_space=False, use_regex=False
                )
            ]
        )
        tokenizer.decoder = tokenizers.decoders.ByteLevel()
        tokenizer.add_special_tokens(
            [
                tokenizers.AddedToken(token, special=True, normalized=False)
                for token in self.unsplittable_tokens
            ]
        )
        self._tokenizer = tokenizer

    def _use_tf_workflow(self):
        return False

    def tokenize(self, inputs):
        if not _in_tf_graph():
            return super().tokenize(inputs)
        # Inside `tf.data` or a `tf.function` the Python path runs as a
        # `tf.py_function`, so graph and eager calls split text alike.
        import tensorflow as tf

        inputs = tf.convert_to_tensor(inputs)

        def encode(texts):
            rows = self._tokenize_tokenizers(
                [t.decode("utf-8") for t in texts.numpy()]
            )
            flat = [i for row in rows for i in row]
            lengths = [len(row) for row in rows]
            return np.asarray(flat, "int32"), np.asarray(lengths, "int64")

        self._maybe_initialized_tokenizers()
        flat, lengths = tf.py_function(
            encode, [tf.reshape(inputs, [-1])], [tf.int32, tf.int64]
        )
        ids = tf.RaggedTensor.from_row_lengths(
            tf.ensure_shape(flat, [None]), tf.ensure_shape(lengths, [None])
        )
        if self.sequence_length:
            ids = ids.to_tensor(
                self.pad_token_id, shape=[None, self.sequence_length]
            )
        return ids[0] if inputs.shape.rank == 0 else ids

    def detokenize(self, inputs):
        if not _in_tf_graph():
            return super().detokenize(inputs)
        import tensorflow as tf

        if not isinstance(inputs, tf.RaggedTensor):
            inputs = tf.RaggedTensor.from_tensor(
                tf.reshape(inputs, [-1, tf.shape(inputs)[-1]])
            )

        def decode(flat, lengths):
            rows = np.split(flat.numpy(), np.cumsum(lengths.numpy())[:-1])
            return np.asarray(self._tokenizer.decode_batch(rows), object)

        self._maybe_initialized_tokenizers()
        return tf.py_function(
            decode, [inputs.flat_values, inputs.row_lengths()], tf.string
        )

    def tokenizer_json(self, with_start_token=False):
        """The tokenizer as a Hugging Face `tokenizer.json` string.

        Args:
            with_start_token: whether the JSON's post-processor adds the
                start token where this tokenizer's packers would (when
                `add_start_token`); transformers and vLLM read it so.

        Returns:
            str, with this pre-tokenizer and the special tokens.
        """
        self._maybe_initialized_tokenizers()
        if not (with_start_token and self.start_token_id is not None):
            return self._tokenizer.to_str()
        tokenizer = tokenizers.Tokenizer.from_str(self._tokenizer.to_str())
        start = self.start_token
        tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
            single=f"{start} $A",
            pair=f"{start} $A {start} $B",
            special_tokens=[(start, self.start_token_id)],
        )
        return tokenizer.to_str()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pretokenizer": self.pretokenizer,
                "end_token": self.end_token,
                "start_token": self.bos_token,
                "add_start_token": self.add_start_token,
                "pad_token": self.pad_token,
                "special_tokens": self.special_token_list,
            }
        )
        return config


def _in_tf_graph():
    try:
        import tensorflow as tf
    except ImportError:
        return False
    return not tf.executing_eagerly()
