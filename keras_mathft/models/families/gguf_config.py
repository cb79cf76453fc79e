"""Typed, checked reading of a GGUF file's metadata for the families.

`GGUFMetadata` reads the key-value fields of a `gguf.GGUFReader`; every
number a family's config reads goes through `integer` or `number`, and
every switch through `flag`, which refuse a missing, non-finite,
out-of-range or wrongly typed value by its key (as llama.cpp, which reads
each field with its own type, refuses a float where it wants an integer
or a number where it wants a boolean). `dense_config` is the part every
decoder family shares.
"""

import math

import numpy as np

# GGUF value type names (`gguf.GGUFValueType`) of each kind of field.
_INTEGER_TYPES = frozenset(
    {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "UINT64", "INT64"}
)
_FLOAT_TYPES = frozenset({"FLOAT32", "FLOAT64"})
# keras-hub computes sizes, positions and windows in int32.
INT32_MAX = 2**31 - 1


class GGUFMetadata:
    """Typed access to a GGUF file's key-value fields.

    Args:
        reader: a `gguf.GGUFReader`.
        source: str, the file's name for error messages.

    Raises:
        ValueError: when the file has no `general.architecture`.
    """

    def __init__(self, reader, source="the GGUF file"):
        self._fields = reader.fields
        self.source = source
        self.architecture = self.get("general.architecture")
        if not isinstance(self.architecture, str):
            raise ValueError(
                f"{source} has no `general.architecture` text field, so it "
                "is not a model checkpoint. Received: fields="
                f"{sorted(self._fields)[:8]}"
            )

    def get(self, key, default=None):
        """The field's value, or `default` when the file lacks it."""
        field = self._fields.get(key)
        if field is None:
            return default
        try:
            return field.contents()
        except (IndexError, ValueError, TypeError) as error:
            raise ValueError(
                f"The field `{key}` of {self.source} cannot be read "
                f"({error}). Pass an uncorrupted GGUF file. Received: "
                f"{key}"
            ) from error

    def value_type(self, key):
        """The GGUF type name of field `key` (e.g. `"UINT32"`), or None."""
        field = self._fields.get(key)
        if field is None or not field.types:
            return None
        return field.types[0].name

    def flag(self, key, default):
        """The boolean field `key` (a full key), or `default` if absent.

        Raises:
            ValueError: for a value that is not a GGUF boolean.
        """
        value = self.get(key)
        if value is None:
            return default
        if self.value_type(key) != "BOOL" or not isinstance(value, bool):
            raise self._bad(key, value, "a boolean")
        return value

    def arch(self, key, default=None):
        """The architecture's own field `<architecture>.<key>`."""
        return self.get(f"{self.architecture}.{key}", default)

    def require(self, key):
        """The architecture's field `key`; refuses a file that lacks it."""
        value = self.arch(key)
        if value is None:
            raise ValueError(
                f"This {self.architecture!r} GGUF file lacks the "
                f"`{self.architecture}.{key}` field that the conversion "
                "needs; re-create the file with a current llama.cpp "
                f"`convert_hf_to_gguf.py`. Received: {key}=None"
            )
        return value

    def integer(self, key, default=None, minimum=1):
        """The architecture's integer field `key`, at least `minimum`.

        At most `INT32_MAX`: keras-hub computes sizes and attention
        windows in int32, where a larger value overflows.

        Args:
            key: the key after `<architecture>.`.
            default: used when the field is absent; None requires it.
            minimum: the smallest value accepted.

        Returns:
            int.
        """
        value = self.arch(key)
        if value is None:
            if default is not None:
                return default
            value = self.require(key)
        name = f"{self.architecture}.{key}"
        return self._checked(name, value, minimum, INT32_MAX)

    def token_id(self, key, vocabulary_size):
        """The tokenizer's id field `tokenizer.ggml.<key>`, or None.

        Raises:
            ValueError: for an id outside the vocabulary.
        """
        name = f"tokenizer.ggml.{key}"
        value = self.get(name)
        if value is None:
            return None
        return self._checked(name, value, 0, vocabulary_size - 1)

    def _checked(self, name, value, minimum, maximum=None):
        integral = self.value_type(name) in _INTEGER_TYPES and (
            isinstance(value, int) and not isinstance(value, bool)
        )
        if (
            not integral
            or int(value) < minimum
            or (maximum is not None and int(value) > maximum)
        ):
            bound = "" if maximum is None else f" and <= {maximum}"
            kind = self.value_type(name)
            typed = "" if kind in _INTEGER_TYPES else f", not a {kind}"
            raise self._bad(
                name, value, f"an integer >= {minimum}{bound}{typed}"
            )
        return int(value)

    def number(self, key, default=None, positive=True, below=None):
        """A finite float field (positive unless told otherwise).

        Args:
            key: the key after `<architecture>.`.
            default: used when the field is absent; None requires it.
            positive: whether the value must be > 0.
            below: optional bound the value must stay under.

        Returns:
            float.
        """
        value = self.arch(key)
        name = f"{self.architecture}.{key}"
        if value is None:
            if default is not None:
                return float(default)
            value = self.require(key)
        wanted = "a finite number" + (" > 0" if positive else "")
        if below is not None:
            wanted += f" and < {below}"
        if self.value_type(name) not in _FLOAT_TYPES:
            raise self._bad(
                name,
                value,
                f"{wanted} (of a float type; this one is "
                f"{self.value_type(name)})",
            )
        number = float(value)
        if (
            not math.isfinite(number)
            or (positive and number <= 0)
            or (below is not None and number >= below)
        ):
            raise self._bad(name, value, wanted)
        return number

    def _bad(self, name, value, wanted):
        return ValueError(
            f"The field `{name}` of {self.source} must be {wanted}; the "
            "file is corrupt or was written by an unsupported converter. "
            f"Received: {name}={value!r}"
        )


def gguf_shape(tensor):
    """A GGUF tensor's shape in HF `(out, in)` order (GGUF lists it
    reversed)."""
    return tuple(int(d) for d in reversed(np.asarray(tensor.shape).tolist()))


def dense_config(meta, tensors):
    """The backbone arguments every decoder family reads the same way.

    Args:
        meta: `GGUFMetadata`.
        tensors: dict, tensor name -> `gguf` reader tensor.

    Returns:
        dict with `vocabulary_size`, `num_layers`, `num_query_heads`,
        `num_key_value_heads`, `hidden_dim`, `intermediate_dim` and
        `layer_norm_epsilon`.

    Raises:
        ValueError: for a missing embedding, a value out of range or head
            counts that do not divide.
    """
    embedding = tensors.get("token_embd.weight")
    if embedding is None:
        raise ValueError(
            f"This {meta.architecture!r} GGUF file has no "
            "`token_embd.weight` tensor. Pass a complete model file. "
            f"Received: tensors={sorted(tensors)[:6]}"
        )
    hidden = meta.integer("embedding_length")
    heads = meta.integer("attention.head_count")
    kv_heads = meta.integer("attention.head_count_kv", default=heads)
    shape = gguf_shape(embedding)
    if len(shape) != 2 or shape[1] != hidden or shape[0] < 1:
        raise ValueError(
            "`token_embd.weight` must be a (vocabulary, embedding_length) "
            f"matrix. Received: shape={list(shape)}, embedding_length="
            f"{hidden}"
        )
    if heads % kv_heads:
        raise ValueError(
            "`attention.head_count` must be a multiple of "
            "`attention.head_count_kv` (grouped-query attention). "
            f"Received: head_count={heads}, head_count_kv={kv_heads}"
        )
    _check_value_length(meta)
    return {
        "vocabulary_size": shape[0],
        "num_layers": meta.integer("block_count"),
        "num_query_heads": heads,
        "num_key_value_heads": kv_heads,
        "hidden_dim": hidden,
        "intermediate_dim": meta.integer("feed_forward_length"),
        # Real files hold 1e-5 or 1e-6; an epsilon of 1 or more outweighs
        # the activations' mean square, so it can only be corruption.
        "layer_norm_epsilon": meta.number(
            "attention.layer_norm_rms_epsilon", below=1.0
        ),
    }


def _check_value_length(meta):
    """`value_length`, where given, equals `key_length`: keras-hub's
    backbones have one head size (checked for every family, including
    those that read only `key_length`)."""
    if meta.arch("attention.value_length") is None:
        return
    value_size = meta.integer("attention.value_length")
    if meta.arch("attention.key_length") is None:
        return
    size = meta.integer("attention.key_length")
    if value_size != size:
        raise ValueError(
            "keras-hub's backbones use one head size for keys and values. "
            f"Received: key_length={size}, value_length={value_size}"
        )


def head_dim(meta, config):
    """The attention head size: `key_length`, the RoPE dimension or
    hidden / heads."""
    fallback = config["hidden_dim"] // config["num_query_heads"]
    rope = meta.integer("rope.dimension_count", default=fallback)
    size = meta.integer("attention.key_length", default=rope)
    value_size = meta.integer("attention.value_length", default=size)
    if value_size != size:
        raise ValueError(
            "keras-hub's backbones use one head size for keys and values. "
            f"Received: key_length={size}, value_length={value_size}"
        )
    return size


def check_head_dim(family, size, config):
    """Refuses a head size a backbone that derives it cannot hold."""
    if size * config["num_query_heads"] != config["hidden_dim"]:
        raise ValueError(
            f"keras-hub's {family} backbone needs head_dim = hidden / "
            f"heads. Received: head_dim={size}, hidden="
            f"{config['hidden_dim']}, heads={config['num_query_heads']}"
        )


def refuse_rope_scaling(meta, family):
    """Refuses any `rope.scaling.type` but none."""
    kind = meta.arch("rope.scaling.type")
    if kind not in (None, "none"):
        raise ValueError(
            f"The {family} conversion supports no `{kind}` RoPE scaling. "
            "Supported: files without `rope.scaling.type`. Received: "
            f"rope.scaling.type={kind!r}"
        )


def rope_base(meta):
    """The RoPE base frequency (`rope.freq_base`, 10,000 by default)."""
    return meta.number("rope.freq_base", default=10000.0)


def tied_output(tensors):
    """Whether the output head is the token embedding (no `output`)."""
    return "output.weight" not in tensors


def unpermute_llama_qk(config, hf_name, array):
    """Undoes the Q/K row permutation of llama.cpp's `llama` files.

    llama.cpp views each head's rows as `(2, head_dim / 2)` and swaps the
    two axes (rotary halves interleaved); this view `(head_dim / 2, 2)`
    swaps them back. Other tensors pass unchanged.
    """
    if hf_name.endswith("q_proj.weight"):
        heads = config["num_query_heads"]
    elif hf_name.endswith("k_proj.weight"):
        heads = config["num_key_value_heads"]
    else:
        return array
    rows = array.shape[0]
    return (
        array.reshape(heads, rows // heads // 2, 2, *array.shape[1:])
        .swapaxes(1, 2)
        .reshape(array.shape)
    )
