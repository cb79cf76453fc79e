"""Build keras-hub causal LMs of any family from a config.

`build_causal_lm` is the from-scratch path (tests, toy runs, the offline
recipe); pretrained models come from `MathSolver.from_preset`.
"""

import keras_hub

from keras_mathft.models.families import FAMILIES


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
    file path), e.g. `keras_mathft.data.embedded_tokenizer_proto()`; BPE
    families (Llama3, Qwen, Qwen3, GPT-2) take a built keras-hub
    tokenizer. Any family also accepts any keras-hub tokenizer instance.

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
    record, tokenizer = _family_and_tokenizer(family, tokenizer)
    uniform = {
        "num_heads": num_heads,
        "num_key_value_heads": num_key_value_heads,
        "head_dim": head_dim or hidden_dim // num_heads,
    }
    common = {
        "num_layers": num_layers,
        "hidden_dim": hidden_dim,
        "intermediate_dim": intermediate_dim,
        "dropout": dropout,
        "dtype": dtype,
    }
    return _assemble(
        record, tokenizer, common, uniform, sequence_length, backbone_kwargs
    )


def _family_and_tokenizer(family, tokenizer):
    """The family's record and a keras-hub tokenizer made for it."""
    if family not in FAMILIES:
        raise ValueError(
            f"`family` must be one of {sorted(FAMILIES)}. "
            f"Received: family={family!r}"
        )
    record = FAMILIES[family]
    return record, _make_tokenizer(record, tokenizer)


def _assemble(
    record, tokenizer, common, uniform, sequence_length, backbone_kwargs
):
    """The family's backbone, preprocessor and causal LM, built.

    `common` holds the arguments every family names alike; `uniform` those
    each family names its own way (`Family.argument_names`).
    """
    kwargs = {"vocabulary_size": tokenizer.vocabulary_size(), **common}
    for ours, theirs in record.argument_names.items():
        kwargs[theirs] = uniform[ours]
    if record.build_arguments is not None:
        kwargs.update(record.build_arguments(sequence_length))
    kwargs.update(backbone_kwargs)
    backbone = getattr(keras_hub.models, record.backbone)(**kwargs)
    preprocessor = getattr(keras_hub.models, record.preprocessor)(
        tokenizer=tokenizer, sequence_length=sequence_length
    )
    return getattr(keras_hub.models, record.causal_lm)(
        backbone=backbone, preprocessor=preprocessor
    )


def _make_tokenizer(record, tokenizer):
    tokenizer_cls = getattr(keras_hub.models, record.tokenizer)
    if isinstance(tokenizer, keras_hub.tokenizers.Tokenizer):
        return tokenizer
    if record.sentencepiece and isinstance(tokenizer, (bytes, str)):
        return tokenizer_cls(proto=tokenizer, **record.tokenizer_arguments)
    raise ValueError(
        f"The {record.name!r} family needs a keras-hub tokenizer (e.g. "
        f"`keras_hub.models.{record.tokenizer}`)"
        + (
            " or a SentencePiece proto (bytes or a path)"
            if record.sentencepiece
            else ""
        )
        + f". Received: {type(tokenizer).__name__}"
    )
