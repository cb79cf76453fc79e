"""Llama 3, and every `llama` GGUF file with a byte-level BPE tokenizer
(Llama 3.x, SmolLM2): Llama decoder blocks, optional tied head, Llama 3.1
RoPE scaling.

A file's tokenizer (pre-tokenizer, special tokens, whether a start token
is added) comes from the file itself (`keras_mathft.models.
FileBPETokenizer`), so SmolLM2's GPT-2-style tokenizer and Llama 3's need
no case of their own here.
"""

import keras_hub
import numpy as np

from keras_mathft.models.families import gguf_config
from keras_mathft.models.families.family import DECODER_WEIGHTS
from keras_mathft.models.families.family import GGUF_BLOCK_TENSORS
from keras_mathft.models.families.family import GGUF_DENSE_BLOCK
from keras_mathft.models.families.family import GQA_ARGUMENTS
from keras_mathft.models.families.family import UNTIED_EMBEDDING_LAYOUT
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import GGUFFormat
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import keras_hub_layout

_ROPE_FREQS = "rope_freqs.weight"


def _gguf_config(meta, tensors):
    config = gguf_config.dense_config(meta, tensors)
    gguf_config.refuse_rope_scaling(meta, "Llama 3")
    head_dim = gguf_config.head_dim(meta, config)
    gguf_config.check_head_dim("Llama3", head_dim, config)
    config.update(
        rope_max_wavelength=gguf_config.rope_base(meta),
        tie_word_embeddings=gguf_config.tied_output(tensors),
    )
    if _ROPE_FREQS in tensors:
        config.update(_rope_scaling(meta, tensors[_ROPE_FREQS], head_dim))
    return config


def _rope_scaling(meta, tensor, head_dim):
    """keras-hub's Llama 3.1 RoPE arguments from `rope_freqs.weight`.

    llama.cpp stores Llama 3.1+ RoPE scaling as one divisor per frequency:
    1 for short wavelengths, `factor` for long ones, and `1 / ((1 - s) /
    factor + s)` between, with `s = (L / wavelength - low) / (high - low)`.
    `s` is linear in `L / wavelength`, so the divisors give `factor`,
    `low` and `high` back (for `L`, the file's original context length or
    8192). The recovered settings are checked by recomputing the divisors.
    """
    import gguf

    divisors = np.asarray(
        gguf.quants.dequantize(tensor.data, tensor.tensor_type), "float64"
    ).reshape(-1)
    inverse = gguf_config.rope_base(meta) ** -(
        np.arange(0, head_dim, 2) / head_dim
    )
    length = meta.integer("rope.scaling.original_context_length", 8192)
    x = length * inverse / (2 * np.pi)  # L / wavelength
    settings = None
    if divisors.shape == inverse.shape and np.isfinite(divisors).all():
        settings = _fit_rope_scaling(divisors, x, length)
    if settings is None:
        raise ValueError(
            "`rope_freqs.weight` does not follow Llama 3.1's RoPE scaling, "
            "the only per-frequency scaling keras-hub's Llama3Backbone "
            "has. Supported: files whose rope_freqs come from a `llama3` "
            f"rope_scaling. Received: rope_freqs={divisors.round(3).tolist()}"
        )
    return settings


def _fit_rope_scaling(divisors, x, length):
    factor = float(divisors.max())
    if factor <= 1:
        return None
    middle = (divisors > 1 + 1e-6) & (divisors < factor * (1 - 1e-6))
    smooth = (1 / divisors - 1 / factor) / (1 - 1 / factor)
    low, high = 1.0, 4.0
    if middle.sum() >= 2:
        slope, offset = np.polyfit(x[middle], smooth[middle], 1)
        low, high = -offset / slope, (1 - offset) / slope
    elif middle.sum() == 1:
        high = low + (x[middle][0] - low) / smooth[middle][0]
    s = np.clip((x - low) / (high - low), 0.0, 1.0)
    if not np.allclose(1 / ((1 - s) / factor + s), divisors, rtol=1e-4):
        return None
    return {
        "rope_frequency_adjustment_factor": factor,
        "rope_low_freq_factor": float(low),
        "rope_high_freq_factor": float(high),
        "rope_pretraining_sequence_length": int(length),
    }


def _hf_load_arguments(config):
    # keras-hub's Llama 3 HF converter drops `rms_norm_eps` (its default,
    # 1e-6, moves SmolLM2's logits by 0.02).
    if "rms_norm_eps" not in config:
        return {}
    return {"layer_norm_epsilon": float(config["rms_norm_eps"])}


def _keep_tied_embeddings_in_configs():
    """Makes `LlamaBackbone.get_config` keep `tie_word_embeddings`.

    keras-hub 0.32 leaves it out, so a saved tied model (SmolLM2, Llama
    3.2 1B) reloads with an untied head and fails to load its weights
    ("'token_embedding' expected 2 variables"): every preset and `.keras`
    file of one would be unusable. The key is added only where keras-hub's
    own config lacks it, and its `__init__` takes it.
    """
    cls = keras_hub.models.LlamaBackbone
    original = cls.get_config
    if getattr(original, "keeps_tie_word_embeddings", False):
        return

    def get_config(self):
        config = original(self)
        config.setdefault("tie_word_embeddings", self.tie_word_embeddings)
        return config

    get_config.keeps_tie_word_embeddings = True
    cls.get_config = get_config


_keep_tied_embeddings_in_configs()

FAMILY = Family(
    name="llama3",
    backbone="Llama3Backbone",
    causal_lm="Llama3CausalLM",
    preprocessor="Llama3CausalLMPreprocessor",
    tokenizer="Llama3Tokenizer",
    sentencepiece=False,
    argument_names=dict(GQA_ARGUMENTS),
    special_tokens=(
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
    ),
    turn_end_tokens=("<|end_of_text|>", "<|eot_id|>"),
    hf_weights=DECODER_WEIGHTS,
    hf_load_arguments=_hf_load_arguments,
    hf_export=HFExport("llama", "LlamaForCausalLM"),
    gguf=GGUFFormat(
        architecture="llama",
        tokenizer_models=("gpt2",),
        config=_gguf_config,
        block_tensors=GGUF_BLOCK_TENSORS,
        required=GGUF_DENSE_BLOCK,
        to_hf=gguf_config.unpermute_llama_qk,
        side_tensors=frozenset({_ROPE_FREQS}),
    ),
    layout_map=keras_hub_layout(
        "Llama3Backbone", extra=UNTIED_EMBEDDING_LAYOUT
    ),
)
