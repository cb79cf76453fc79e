"""Tiny causal LMs with the same weights on every backend, for exports.

`deterministic_causal_lm(family)` builds a tiny keras-hub model of each
family we export and sets every weight from a numpy generator, so JAX and
TensorFlow (and any machine) hold the same numbers and write the same
Hugging Face checkpoint. The stored transformers reference of
`hf_reference/` was computed from exactly these checkpoints.
"""

import io

import numpy as np
import sentencepiece
from conftest import CORPUS
from conftest import TINY as CONFTEST_TINY
from conftest import bpe_tokenizer

from keras_mathft.models import FAMILIES
from keras_mathft.models import build_causal_lm

EXPORT_FAMILIES = tuple(
    sorted(name for name, f in FAMILIES.items() if f.hf_export)
)
SPACE_RUN = "\u2581\u2581"
# The shared tiny size, with a longer sequence for the tests here.
TINY = {**CONFTEST_TINY, "sequence_length": 64}


def bpe_sentencepiece_proto(family):
    """A BPE SentencePiece proto with byte fallback, like Gemma's."""
    gemma = family in ("gemma", "gemma3")
    specials = (
        dict(pad_id=0, eos_id=1, bos_id=2, unk_id=3)
        if gemma
        else dict(pad_id=-1, unk_id=0, bos_id=1, eos_id=2)
    )
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=buffer,
        vocab_size=330,
        model_type="BPE",
        byte_fallback=True,
        hard_vocab_limit=False,
        user_defined_symbols=[SPACE_RUN, "<start_of_image>"] if gemma else [],
        add_dummy_prefix=not gemma,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        allow_whitespace_only_pieces=True,
        pad_piece="<pad>",
        bos_piece="<bos>" if gemma else "<s>",
        eos_piece="<eos>" if gemma else "</s>",
        unk_piece="<unk>",
        num_threads=1,
        minloglevel=2,
        **specials,
    )
    return buffer.getvalue()


def deterministic_causal_lm(family, seed=0, **kwargs):
    """A tiny causal LM of `family` whose weights come from `seed` alone."""
    if family in ("gemma", "gemma3", "mistral"):
        tokenizer = bpe_sentencepiece_proto(family)
    else:
        tokenizer = bpe_tokenizer(family)
    extra = {}
    if family == "gemma3":
        extra = dict(use_post_ffw_norm=True, use_post_attention_norm=True)
    if family == "gpt2":  # keras-hub's HF GPT-2 loader assumes 4 x hidden.
        extra = dict(intermediate_dim=4 * TINY["hidden_dim"])
    lm = build_causal_lm(family, tokenizer, **{**TINY, **extra, **kwargs})
    rng = np.random.default_rng(seed)
    for variable in lm.backbone.weights:
        shape = tuple(variable.shape)
        value = rng.normal(0.0, 0.2, shape)
        if variable.path.endswith(("/scale", "/gamma")):
            value = 1.0 + 0.1 * value
        variable.assign(value.astype("float32"))
    return lm
