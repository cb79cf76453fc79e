"""The tokenizer a GGUF file describes, as a keras-hub tokenizer.

- `tokenizer.ggml.model = "gpt2"` (byte-level BPE): a `FileBPETokenizer`
  with the file's pre-tokenizer (`tokenizer.ggml.pre`), end, start and pad
  tokens, whether the start token is added (`add_bos_token`) and its
  control and user-defined tokens.
- `"llama"` (SentencePiece): the family's keras-hub tokenizer over a
  proto rebuilt from `tokenizer.ggml.*`: `<unk>` gets the UNKNOWN piece
  type (llama.cpp marks it CONTROL), and user-defined tokens made only of
  spaces get back their `▁` spelling (llama.cpp stores real spaces).
  keras-hub's SentencePiece tokenizers fix their start and end tokens by
  name (`<bos>`, `<s>`, ...), so a file whose `bos_token_id` names
  another token, or whose `eos_token_id` is neither the end token nor one
  of the family's turn-end tokens, is refused rather than loaded with
  other special tokens than llama.cpp would use.

Every id and list the file gives is checked against the vocabulary,
scores must be finite and switches (`add_bos_token`, `add_space_prefix`)
booleans; a problem names the field and the file.
"""

import math

import keras_hub

from keras_mathft.models.file_tokenizer import PRETOKENIZERS
from keras_mathft.models.file_tokenizer import FileBPETokenizer
from keras_mathft.models.file_tokenizer import check_pretokenizer

SPM_UNKNOWN, SPM_CONTROL, SPM_USER_DEFINED, SPM_BYTE = 2, 3, 4, 6
_TOKEN_TYPES = range(1, 7)
_VISION_TOKENS = {"<start_of_image>", "<img>", "<end_of_image>"}


def build_gguf_tokenizer(meta, family, vocabulary_size):
    """Builds the tokenizer of a GGUF file.

    Args:
        meta: `families.gguf_config.GGUFMetadata` of the file.
        family: its `Family`.
        vocabulary_size: rows of `token_embd.weight`.

    Returns:
        A keras-hub tokenizer.

    Raises:
        ValueError: for missing, out-of-range or inconsistent fields.
    """
    tokens = _token_list(meta, "tokens", vocabulary_size)
    types = _token_list(meta, "token_type", vocabulary_size, [1] * len(tokens))
    unknown = sorted({t for t in types if t not in _TOKEN_TYPES})
    if unknown or not all(isinstance(t, str) for t in tokens):
        raise ValueError(
            f"`tokenizer.ggml.token_type` of {meta.source} must hold token "
            f"types 1 to 6 and `tokens` strings; the file is corrupt. "
            f"Received: types {unknown[:5]}"
        )
    if meta.get("tokenizer.ggml.model") == "llama":
        return _sentencepiece_tokenizer(meta, family, tokens, types)
    return _bpe_tokenizer(meta, tokens, types)


def _token_list(meta, key, vocabulary_size, default=None):
    value = meta.get(f"tokenizer.ggml.{key}")
    if value is None and default is not None:
        return default
    if not isinstance(value, list) or len(value) != vocabulary_size:
        size = len(value) if isinstance(value, list) else value
        raise ValueError(
            f"`tokenizer.ggml.{key}` of {meta.source} must have one entry "
            f"per row of `token_embd.weight` ({vocabulary_size}). "
            f"Received: {size!r}"
        )
    return value


def _special(meta, tokens, key):
    token_id = meta.token_id(key, len(tokens))
    return None if token_id is None else tokens[token_id]


def _bpe_tokenizer(meta, tokens, types):
    pretokenizer = meta.get("tokenizer.ggml.pre")
    check_pretokenizer(pretokenizer, source=meta.source)
    vocabulary = {token: index for index, token in enumerate(tokens)}
    if len(vocabulary) != len(tokens):
        raise ValueError(
            f"`tokenizer.ggml.tokens` of {meta.source} must not repeat a "
            f"token. Received: {len(tokens) - len(vocabulary)} repeats"
        )
    merges = meta.get("tokenizer.ggml.merges") or []
    end = _special(meta, tokens, "eos_token_id")
    if end is None:
        raise ValueError(
            f"A BPE tokenizer needs `tokenizer.ggml.eos_token_id`; "
            f"{meta.source} has none. Received: eos_token_id=None"
        )
    add_start = meta.flag(
        "tokenizer.ggml.add_bos_token", PRETOKENIZERS[pretokenizer][2]
    )
    start = _special(meta, tokens, "bos_token_id")
    if add_start and start is None:
        raise ValueError(
            f"{meta.source} adds a start token but names none. Received: "
            "add_bos_token=True, bos_token_id=None"
        )
    try:
        return FileBPETokenizer(
            vocabulary=vocabulary,
            merges=merges,
            pretokenizer=pretokenizer,
            end_token=end,
            start_token=start,
            add_start_token=bool(add_start),
            pad_token=_special(meta, tokens, "padding_token_id"),
            special_tokens=[
                token
                for token, kind in zip(tokens, types)
                if kind in (SPM_CONTROL, SPM_USER_DEFINED)
            ],
        )
    except Exception as error:  # The `tokenizers` library raises its own.
        raise ValueError(
            f"The BPE vocabulary or merges of {meta.source} cannot be "
            f"used ({error}). Pass an uncorrupted GGUF file. Received: "
            f"{len(tokens)} tokens, {len(merges)} merges"
        ) from error


def _sentencepiece_tokenizer(meta, family, tokens, types):
    if not meta.flag("tokenizer.ggml.add_bos_token", True):
        raise ValueError(
            f"keras-hub's {family.tokenizer} always adds its start token, "
            f"but {meta.source} says not to. Supported: SentencePiece files "
            "that add it. Received: add_bos_token=False"
        )
    proto = _sentencepiece_proto(meta, tokens, types)
    cls = getattr(keras_hub.models, family.tokenizer)
    kwargs = dict(family.tokenizer_arguments)
    if "has_vision_tokens" in kwargs:
        kwargs["has_vision_tokens"] = _VISION_TOKENS <= set(tokens)
    tokenizer = cls(proto, **kwargs)
    _check_fixed_specials(meta, family, tokenizer, tokens)
    return tokenizer


def _check_fixed_specials(meta, family, tokenizer, tokens):
    """The file's start and end tokens are the ones keras-hub's tokenizer
    uses (an end token may also be one of the family's turn ends, which
    the sampler stops on too)."""
    for key, role, allowed in (
        ("bos_token_id", "start", ()),
        ("eos_token_id", "end", family.turn_end_tokens),
    ):
        token_id = meta.token_id(key, len(tokens))
        own = getattr(tokenizer, f"{role}_token_id", None)
        if token_id is None or token_id == own or tokens[token_id] in allowed:
            continue
        raise ValueError(
            f"keras-hub's {family.tokenizer} uses "
            f"{tokenizer.id_to_token(own)!r} (id {own}) as its {role} token, "
            f"but `tokenizer.ggml.{key}` of {meta.source} names "
            f"{tokens[token_id]!r}; the model would get other special "
            f"tokens than llama.cpp gives it. Received: {key}={token_id}"
        )


def _sentencepiece_proto(meta, tokens, types):
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    scores = _token_list(meta, "scores", len(tokens), [0.0] * len(tokens))
    bad = [
        i
        for i, score in enumerate(scores)
        if not isinstance(score, (int, float)) or not math.isfinite(score)
    ]
    if bad:
        raise ValueError(
            f"`tokenizer.ggml.scores` of {meta.source} must hold finite "
            "numbers (they order SentencePiece merges); the file is "
            f"corrupt. Received: {len(bad)} others, e.g. "
            f"scores[{bad[0]}]={scores[bad[0]]!r}"
        )
    unk_id = meta.token_id("unknown_token_id", len(tokens))
    if unk_id is None and "<unk>" in tokens:
        unk_id = tokens.index("<unk>")
    if unk_id is None:
        raise ValueError(
            "A SentencePiece GGUF tokenizer needs an unknown token "
            "(`tokenizer.ggml.unknown_token_id` or a `<unk>` token); "
            f"{meta.source} has neither. Received: neither"
        )
    for index, (token, score, kind) in enumerate(zip(tokens, scores, types)):
        piece = model.pieces.add()
        # llama.cpp writes user-defined runs of spaces with real spaces;
        # SentencePiece matches them after escaping spaces to U+2581.
        if kind == SPM_USER_DEFINED and token and not token.strip(" "):
            token = "\u2581" * len(token)
        piece.piece = token
        piece.score = float(score)
        piece.type = SPM_UNKNOWN if index == unk_id else int(kind)
    spec = model.trainer_spec
    spec.model_type = sentencepiece_model_pb2.TrainerSpec.BPE
    spec.vocab_size = len(tokens)
    spec.byte_fallback = SPM_BYTE in types
    spec.allow_whitespace_only_pieces = True
    for name, key in (
        ("bos", "bos_token_id"),
        ("eos", "eos_token_id"),
        ("pad", "padding_token_id"),
    ):
        token_id = meta.token_id(key, len(tokens))
        setattr(spec, f"{name}_id", -1 if token_id is None else token_id)
        if token_id is not None:
            setattr(spec, f"{name}_piece", tokens[token_id])
    spec.unk_id = unk_id
    spec.unk_piece = tokens[unk_id]
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = meta.flag(
        "tokenizer.ggml.add_space_prefix", True
    )
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = True
    return model.SerializeToString()
