"""One module per keras-hub decoder family, each holding a `Family` record.

A family module (`gemma3.py`, `llama3.py`, ...) says everything the
project knows about the family: its keras-hub classes, where its weights
sit in a Hugging Face checkpoint, how llama.cpp stores it in a GGUF file,
its turn-end tokens, its HF export's fix-ups and its sharding. The
builder (`build_causal_lm`), the GGUF importer, the HF exporter and the
sampler's stop tokens read these records and hold no per-family code.

Adding a family is one new module here that defines `FAMILY` (it is found
by name, nothing else lists it) and its test in `tests/models/families/`.

Example:

>>> from keras_mathft.models import families
>>> families.FAMILIES["qwen3"].hf_export.architecture
'Qwen3ForCausalLM'
>>> [f.name for f in families.gguf_families("llama")]
['llama3', 'mistral']
"""

import contextlib
import functools
import importlib
import pkgutil

from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import GGUFFormat
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import HFWeights

_SHARED_MODULES = ("cache_attention", "family", "gguf_config")


def _discover():
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name in _SHARED_MODULES:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        if isinstance(family, Family):
            found[family.name] = family
    return found


FAMILIES = _discover()


def family_of(model):
    """The family of a model, found from its backbone's class.

    Args:
        model: a keras-hub backbone, `CausalLM` or `MathSolver`.

    Returns:
        A `Family`.

    Raises:
        ValueError: for a backbone of no known family.

    Example:

    >>> from keras_mathft.data import embedded_tokenizer_proto
    >>> from keras_mathft.models import build_causal_lm
    >>> lm = build_causal_lm("gemma", embedded_tokenizer_proto(),
    ...                      num_layers=1, hidden_dim=16)
    >>> family_of(lm).name
    'gemma'
    """
    backbone = _backbone(model)
    family = _find_family(backbone)
    if family is None:
        supported = sorted(f.backbone for f in FAMILIES.values())
        raise ValueError(
            "No family record for this backbone. Supported backbones: "
            f"{supported}. Received: {type(backbone).__name__}"
        )
    return family


def _backbone(model):
    backbone = getattr(model, "causal_lm", model)
    return getattr(backbone, "backbone", backbone)


def _find_family(backbone):
    by_backbone = {f.backbone: f for f in FAMILIES.values()}
    for cls in type(backbone).__mro__:
        if cls.__name__ in by_backbone:
            return by_backbone[cls.__name__]
    return None


@contextlib.contextmanager
def inference_attention(model):
    """While active, the model's attention layers compute with its
    family's `attention` (where it has one); restored on exit.

    The sampler traces its compiled programs inside this; training and
    scoring run keras-hub's own attention.

    Args:
        model: a keras-hub backbone, `CausalLM` or `MathSolver`.

    Example:

    >>> from keras_mathft.data import embedded_tokenizer_proto
    >>> from keras_mathft.models import build_causal_lm
    >>> lm = build_causal_lm("gemma", embedded_tokenizer_proto(),
    ...                      num_layers=1, hidden_dim=16)
    >>> layer = lm.backbone.transformer_layers[0].attention
    >>> with inference_attention(lm):
    ...     "_compute_attention" in vars(layer)
    True
    >>> "_compute_attention" in vars(layer)
    False
    """
    backbone = _backbone(model)
    family = _find_family(backbone)
    layers = []
    if family is not None and family.attention is not None:
        layers = [b.attention for b in backbone.transformer_layers]
    for layer in layers:
        layer._compute_attention = functools.partial(family.attention, layer)
    try:
        yield
    finally:
        for layer in layers:
            del layer._compute_attention


def gguf_families(architecture):
    """The families whose GGUF files have this `general.architecture`.

    Args:
        architecture: str.

    Returns:
        A list of `Family`, sorted by name (empty when none).
    """
    return [
        f
        for f in FAMILIES.values()
        if f.gguf is not None and f.gguf.architecture == architecture
    ]


def stop_token_ids(causal_lm):
    """The ids that end a sample: end of text, and end of turn.

    The tokenizer's end token (and keras-hub's second one, Llama 3's
    `<|eot_id|>`), then every turn-end token of the model's family record
    that the vocabulary really holds (an unknown piece maps to the unknown
    token, which must not stop rows).

    Args:
        causal_lm: a keras-hub `CausalLM` with a preprocessor, or a
            `MathSolver`.

    Returns:
        A list of int, without duplicates.
    """
    causal_lm = getattr(causal_lm, "causal_lm", causal_lm)
    tokenizer = causal_lm.preprocessor.tokenizer
    ids = [tokenizer.end_token_id]
    if getattr(tokenizer, "end_token2_id", None) is not None:
        ids.append(tokenizer.end_token2_id)
    for piece in family_of(causal_lm).turn_end_tokens:
        try:
            token = tokenizer.token_to_id(piece)
            known = tokenizer.id_to_token(token) == piece
        except (KeyError, ValueError, IndexError):
            continue
        if known:
            ids.append(token)
    return list(dict.fromkeys(int(i) for i in ids))


__all__ = [
    "FAMILIES",
    "Family",
    "GGUFFormat",
    "HFExport",
    "HFWeights",
    "family_of",
    "gguf_families",
    "stop_token_ids",
]
