"""Build keras-hub causal LMs of any supported family from a config.

`build_causal_lm` is the from-scratch path (tests, toy runs, the offline
recipe); pretrained models come from `MathSolver.from_preset`.
"""

import dataclasses

import keras_hub

_SENTENCEPIECE = "sentencepiece"
_BPE = "bpe"


@dataclasses.dataclass(frozen=True)
class _Family:
    backbone: str
    causal_lm: str
    preprocessor: str
    tokenizer: str
    tokenizer_kind: str
    # Our uniform argument names mapped to the backbone's names.
    names: dict


_LLAMA_NAMES = {
    "num_heads": "num_query_heads",
    "num_key_value_heads": "num_key_value_heads",
}
FAMILIES = {
    "gemma": _Family(
        "GemmaBackbone",
        "GemmaCausalLM",
        "GemmaCausalLMPreprocessor",
        "GemmaTokenizer",
        _SENTENCEPIECE,
        {**_LLAMA_NAMES, "head_dim": "head_dim"},
    ),
    "gemma3": _Family(
        "Gemma3Backbone",
        "Gemma3CausalLM",
        "Gemma3CausalLMPreprocessor",
        "Gemma3Tokenizer",
        _SENTENCEPIECE,
        {**_LLAMA_NAMES, "head_dim": "head_dim"},
    ),
    "llama3": _Family(
        "Llama3Backbone",
        "Llama3CausalLM",
        "Llama3CausalLMPreprocessor",
        "Llama3Tokenizer",
        _BPE,
        dict(_LLAMA_NAMES),
    ),
    "qwen": _Family(
        "QwenBackbone",
        "QwenCausalLM",
        "QwenCausalLMPreprocessor",
        "QwenTokenizer",
        _BPE,
        dict(_LLAMA_NAMES),
    ),
    "qwen3": _Family(
        "Qwen3Backbone",
        "Qwen3CausalLM",
        "Qwen3CausalLMPreprocessor",
        "Qwen3Tokenizer",
        _BPE,
        {**_LLAMA_NAMES, "head_dim": "head_dim"},
    ),
    "mistral": _Family(
        "MistralBackbone",
        "MistralCausalLM",
        "MistralCausalLMPreprocessor",
        "MistralTokenizer",
        _SENTENCEPIECE,
        {**_LLAMA_NAMES, "head_dim": "head_dim"},
    ),
    "gpt2": _Family(
        "GPT2Backbone",
        "GPT2CausalLM",
        "GPT2CausalLMPreprocessor",
        "GPT2Tokenizer",
        _BPE,
        {"num_heads": "num_heads"},
    ),
}


def build_causal_lm(
    family,
    tokenizer,
    *,
    num_layers=2,
    hidden_dim=64,
    num_heads=4,
    num_key_value_heads=2,
    intermediate_dim=128,
    head_dim=None,
    sequence_length=512,
    dropout=0.0,
    dtype=None,
    **backbone_kwargs,
):
    """Builds a randomly initialised keras-hub causal LM of one family.

    The backbone's vocabulary size is the tokenizer's. SentencePiece
    families (Gemma, Gemma3, Mistral) accept a serialized proto (bytes or a
    file path), e.g. the one from `keras_mathft.data.tokenizer`; BPE families
    (Llama3, Qwen, Qwen3, GPT-2) take a built keras-hub tokenizer. Any
    family also accepts a keras-hub tokenizer instance of its own class.

    Args:
        family: one of `FAMILIES`: `"gemma"`, `"gemma3"`, `"llama3"`,
            `"qwen"`, `"qwen3"`, `"mistral"`, `"gpt2"`.
        tokenizer: a keras-hub tokenizer, or a SentencePiece proto (bytes or
            path) for SentencePiece families.
        num_layers, hidden_dim, num_heads, num_key_value_heads,
            intermediate_dim, head_dim: size of the backbone, mapped to each
            family's argument names (`num_key_value_heads` is ignored by
            GPT-2; `head_dim` defaults to `hidden_dim // num_heads`).
        sequence_length: preprocessor sequence length (and GPT-2's maximum
            position).
        dropout: float.
        dtype: backbone dtype policy, e.g. `"mixed_bfloat16"`.
        **backbone_kwargs: passed to the backbone unchanged, using the
            family's own names.

    Returns:
        A `keras_hub.models.CausalLM` with its preprocessor.

    Raises:
        ValueError: for an unknown family or an unsuitable tokenizer.

    Example:

    >>> from keras_mathft.data import embedded_tokenizer_proto
    >>> lm = build_causal_lm(
    ...     "gemma", embedded_tokenizer_proto(), num_layers=1, hidden_dim=16
    ... )
    >>> type(lm).__name__, lm.backbone.num_layers
    ('GemmaCausalLM', 1)
    """
    if family not in FAMILIES:
        raise ValueError(
            f"`family` must be one of {sorted(FAMILIES)}. "
            f"Received: family={family!r}"
        )
    spec = FAMILIES[family]
    tokenizer = _make_tokenizer(family, spec, tokenizer)
    head_dim = head_dim or hidden_dim // num_heads
    uniform = {
        "num_heads": num_heads,
        "num_key_value_heads": num_key_value_heads,
        "head_dim": head_dim,
    }
    kwargs = {
        "vocabulary_size": tokenizer.vocabulary_size(),
        "num_layers": num_layers,
        "hidden_dim": hidden_dim,
        "intermediate_dim": intermediate_dim,
        "dropout": dropout,
        "dtype": dtype,
    }
    for ours, theirs in spec.names.items():
        kwargs[theirs] = uniform[ours]
    if family == "gemma3":
        kwargs.update(image_size=None, vision_encoder=None)
    if family == "gpt2":
        kwargs["max_sequence_length"] = sequence_length
    kwargs.update(backbone_kwargs)
    backbone = getattr(keras_hub.models, spec.backbone)(**kwargs)
    preprocessor = getattr(keras_hub.models, spec.preprocessor)(
        tokenizer=tokenizer, sequence_length=sequence_length
    )
    return getattr(keras_hub.models, spec.causal_lm)(
        backbone=backbone, preprocessor=preprocessor
    )


def _make_tokenizer(family, spec, tokenizer):
    tokenizer_cls = getattr(keras_hub.models, spec.tokenizer)
    if isinstance(tokenizer, tokenizer_cls):
        return tokenizer
    if spec.tokenizer_kind == _SENTENCEPIECE and isinstance(
        tokenizer, (bytes, str)
    ):
        kwargs = {"has_vision_tokens": False} if family == "gemma3" else {}
        return tokenizer_cls(proto=tokenizer, **kwargs)
    raise ValueError(
        f"The {family!r} family needs a `keras_hub.models."
        f"{spec.tokenizer}` instance"
        + (
            " or a SentencePiece proto (bytes or a path)"
            if spec.tokenizer_kind == _SENTENCEPIECE
            else ""
        )
        + f". Received: {type(tokenizer).__name__}"
    )
