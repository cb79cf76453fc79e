"""Fault injection on checkpoints: mutated GGUF files and HF folders, and
kill -9s during an HF export or a GGUF conversion (issue 28).

Two experiments:

1. `fuzz`: tiny models (2 layers, hidden size 16) of every GGUF family
   (llama3, qwen, qwen3, gemma3, mistral: float32 files written the
   llama.cpp way by the tests' `gguf_files.write_gguf`) and of HF families
   (llama3, qwen, gemma, gemma3: folders written by `export_hf` from the
   tests' `hf_models`; a family whose clean folder does not load is
   skipped, with the reason) are mutated one way at a time; each mutated
   file is loaded by `load_gguf` (a fresh cache folder each) or
   `MathSolver.from_preset` and compared with the source model: logits on
   16 token ids (within 1e-5) and the tokenizer (every token's text, the
   ids of three texts with and without the start token, start/end/pad
   ids). Mutations:

   - systematic, every one run: NaN, inf, 0, -1, huge (1e12 or 1e30) and
     2**32-1 written into every numeric GGUF field the importer reads
     (sizes also off by one; token ids also at and past the vocabulary
     size; booleans also flipped); `general.alignment` patched in place;
     every score and one token type; token, score, type and merge lists
     shortened; unknown architecture, tokenizer model and pre-tokenizer
     names; HF `config.json` edits (`num_hidden_layers`, `hidden_size`,
     `vocab_size`, `num_attention_heads`, `intermediate_size`,
     `rms_norm_eps`, `rope_theta`, garbage JSON);
   - random, seeded, filling up to `--mutations` evenly over family x
     kind: GGUF tensors transposed, reshaped, dropped or added; 1 to 64
     random bytes XORed in the header or in the tensor data; truncation
     at a random length; cache damage (a converted entry copied, one of
     its files flipped, truncated, emptied, deleted or garbled, the file
     loaded again); HF `model.safetensors` byte flips in its header or
     data, and truncations.

   Outcomes: refused with a documented error (`ValueError`,
   `FileNotFoundError`: the `Raises:` of `load_gguf` and `convert_gguf`;
   the HF path documents `ValueError`); loaded with a warning; loaded
   equal to the source; loaded different from a *valid* file, in rows of
   their own because no reader can tell (every flipped byte inside
   float32 tensor data or padding with every value still finite; every
   flipped byte inside metadata values, or a value written in the range
   real files use, e.g. another valid token id or RoPE base; the
   optional `output.weight` added: an untied head); loaded different
   otherwise (WRONG: a bug); any other exception (undocumented); the
   process crashing or hanging (`--timeout`). A mutation that must change
   the model (an `output.weight` added, another valid start or end token)
   but loads equal is WRONG too: part of the file was ignored. The
   mutations run in worker processes (8 GiB data limit each), restarted
   after a crash.

2. `kills`: `--kills` SIGKILLs of a child process at a random moment of
   `export_hf` of a tiny Llama 3 model into one parent folder, and as
   many of `convert_gguf` of tiny Llama 3 files (one per run, different
   `general.name`) into one cache folder. The child first exports or
   converts once elsewhere, so the moment (uniform over twice the median
   uninterrupted call) falls in the call's own work. After each kill the
   next call runs to completion in this process (the same target, or a
   new one when the killed call had finished it); then everything under
   the parent (cache) folder beyond the finished targets (and the
   entries' lock files) is listed, every export must be byte-identical to
   an uninterrupted one and every cache entry must hold the files of an
   uninterrupted conversion, pass the cache check and load equal.

The tiny models and the GGUF writer are the tests' own: this script puts
`tests/models/` and `tests/` on `sys.path` and imports `gguf_files` and
`hf_models` from there.

    KERAS_BACKEND=jax python benchmarks/checkpoint_faults.py
    KERAS_BACKEND=jax python benchmarks/checkpoint_faults.py \\
        --experiments=fuzz --mutations=300 --seed=1 --verbose
"""

import collections
import contextlib
import gc
import hashlib
import json
import logging
import math
import os
import pathlib
import platform
import random
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import warnings

from absl import app
from absl import flags
from tables import markdown_table

REPO = pathlib.Path(__file__).resolve().parents[1]
# The tests' tiny models and GGUF writer (their `conftest` is the one of
# tests/models, so that folder comes first).
sys.path[:0] = [str(REPO / "tests" / "models"), str(REPO / "tests")]

FLAGS = flags.FLAGS
flags.DEFINE_list("experiments", ["fuzz", "kills"], "Which to run.")
flags.DEFINE_integer(
    "mutations",
    1500,
    "Mutated files in all: every systematic mutation, then random ones up "
    "to this number (a seeded sample of the systematic ones when smaller).",
)
flags.DEFINE_integer("kills", 20, "SIGKILLs of each kind (export, convert).")
flags.DEFINE_integer("seed", 0, "Seed of the models, mutations and kills.")
flags.DEFINE_list(
    "gguf_families", ["llama3", "qwen", "qwen3", "gemma3", "mistral"], "GGUF."
)
flags.DEFINE_list(
    "hf_families",
    ["llama3", "qwen", "gemma", "gemma3"],
    "HF folders (a family whose clean export does not load is skipped).",
)
flags.DEFINE_bool("verbose", False, "Print every mutation's outcome.")
flags.DEFINE_integer("timeout", 300, "Seconds one mutation may take.")
flags.DEFINE_enum("role", "parent", ["parent", "child", "worker"], "Internal.")
flags.DEFINE_integer("start", 0, "Worker: first mutation index.")
flags.DEFINE_enum("task", "export", ["export", "convert"], "Child: what.")
flags.DEFINE_string("source", None, "Child: the GGUF file to convert.")
flags.DEFINE_string(
    "target", None, "Child: export or cache folder; worker: its folder."
)

# 16 ids below every tiny vocabulary (277 BPE, 330 SentencePiece), longer
# than Gemma 3's sliding window (8).
TOKEN_IDS = [3, 17, 42, 99, 150, 201, 260, 7, 11, 64, 128, 255, 31, 5, 77, 190]
ATOL = 1e-5
HUGE_INT, HUGE_FLOAT, U32_MAX = 10**12, 1e30, 2**32 - 1

# Outcomes, in table order.
REFUSED = "refused (documented error)"
WARNED = "loaded with a warning, equal"
WARNED_DIFFERENT = "loaded with a warning, different"
EQUAL = "loaded, equal"
VALID_WEIGHTS = "valid file, different weights"
VALID_META = "valid file, different metadata"
VALID_HEAD = "valid file, tied/untied head"
WRONG = "loaded WRONG silently"
UNDOCUMENTED = "undocumented exception"
CRASHED = "process crashed or hung"
OUTCOMES = (
    REFUSED,
    WARNED,
    WARNED_DIFFERENT,
    EQUAL,
    VALID_WEIGHTS,
    VALID_META,
    VALID_HEAD,
    WRONG,
    UNDOCUMENTED,
    CRASHED,
)
DOCUMENTED = (ValueError, FileNotFoundError)


# === Loading and comparing ===


def signature(causal_lm):
    """Logits on `TOKEN_IDS` and everything the tokenizer decides."""
    import keras
    import numpy as np
    from gguf_files import TEXTS

    ids = np.array([TOKEN_IDS], "int32")
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids, bool)}
    logits = np.asarray(keras.ops.convert_to_numpy(causal_lm(inputs)), "f8")
    preprocessor = causal_lm.preprocessor
    tokenizer = preprocessor.tokenizer
    size = int(tokenizer.vocabulary_size())
    packed = preprocessor.generate_preprocess(TEXTS, sequence_length=96)
    tokens = (
        size,
        tuple(tokenizer.id_to_token(i) for i in range(size)),
        [np.asarray(tokenizer(text)).tolist() for text in TEXTS],
        keras.ops.convert_to_numpy(packed["token_ids"]).tolist(),
        keras.ops.convert_to_numpy(packed["padding_mask"]).tolist(),
        tuple(
            getattr(tokenizer, name, None)
            for name in ("start_token_id", "end_token_id", "pad_token_id")
        ),
    )
    return logits, tokens


def same(a, b):
    """`(equal, max |logit difference|)` of two signatures."""
    import numpy as np

    (logits_a, tokens_a), (logits_b, tokens_b) = a, b
    if logits_a.shape != logits_b.shape:
        return False, math.inf
    gap = float(np.abs(logits_a - logits_b).max())
    return gap <= ATOL and tokens_a == tokens_b, gap


class _Warnings(logging.Handler):
    """keras_mathft's own warnings (absl logging and `warnings`)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        if "keras_mathft" in record.pathname:
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured_warnings():
    handler = _Warnings()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield handler.messages
        handler.messages.extend(
            str(w.message) for w in caught if "keras_mathft" in w.filename
        )
    finally:
        root.removeHandler(handler)


def attempt(load, reference):
    """Loads, compares; returns `(outcome or None, detail, gap)`.

    None means "loaded silently, different": the caller decides between a
    valid file and WRONG.
    """
    import keras
    import numpy as np

    loaded = None
    with captured_warnings() as messages:
        try:
            loaded = load()
            sig = signature(loaded)
        except DOCUMENTED as error:
            if loaded is not None:  # Loaded, then failed at first use.
                return UNDOCUMENTED, "at first use: " + _describe(error), None
            return REFUSED, _first_line(error), None
        except Exception as error:  # noqa: BLE001 - what we count.
            where = "" if loaded is None else "at first use: "
            return UNDOCUMENTED, where + _describe(error), None
    del loaded
    keras.backend.clear_session()
    gc.collect()
    equal, gap = same(sig, reference)
    if not np.isfinite(sig[0]).all():
        # Judged like any other silent difference: WRONG unless every
        # stored value is finite (then the file's own weights overflow).
        return None, "logits not finite", gap
    if messages:
        return (WARNED if equal else WARNED_DIFFERENT), messages[0][:160], gap
    return (EQUAL if equal else None), "", gap


def _describe(error):
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error):
    return (str(error).strip().splitlines() or [""])[0][:200]


# === GGUF mutations ===


def _gguf():
    import gguf

    return gguf


def rewrite(source, dest, fields=None, drop=(), tensors=None):
    """Copies a GGUF file with fields `key -> (value, type, subtype)` and
    tensors replaced, added or dropped (laid out again by the writer)."""
    import numpy as np

    gguf = _gguf()
    fields, tensors = dict(fields or {}), dict(tensors or {})
    reader = gguf.GGUFReader(str(source))
    arch = reader.fields["general.architecture"].contents()
    arch = fields.pop("general.architecture", (arch,))[0]
    writer = gguf.GGUFWriter(str(dest), arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key in drop:
            continue
        if key in fields:
            value, vtype, sub = fields.pop(key)
        else:
            value, vtype = field.contents(), field.types[0]
            sub = field.types[-1] if len(field.types) > 1 else None
        writer.add_key_value(key, value, vtype, sub_type=sub)
    for key, (value, vtype, sub) in fields.items():
        writer.add_key_value(key, value, vtype, sub_type=sub)
    for tensor in reader.tensors:
        if tensor.name in drop:
            continue
        array = tensors.pop(tensor.name, None)
        if array is None:
            array = np.array(tensor.data)
        writer.add_tensor(tensor.name, np.ascontiguousarray(array, "float32"))
    for name, array in tensors.items():
        writer.add_tensor(name, np.ascontiguousarray(array, "float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest


def gguf_regions(path):
    """`[(start, end, kind, name)]` of a GGUF file: kind is `structure`
    (magic, counts, key names, types, lengths, tensor infos), `value` (a
    metadata value's bytes) or `data` (a tensor's bytes); gaps are
    padding."""
    reader = _gguf().GGUFReader(str(path))
    base = reader.data.ctypes.data
    spans = [(0, 4, "structure", "magic")]

    def span(part):
        start = part.ctypes.data - base
        return start, start + part.nbytes

    for key, field in reader.fields.items():
        for index, part in enumerate(field.parts):
            value = not key.startswith("GGUF.") and index in field.data
            spans.append((*span(part), "value" if value else "structure", key))
    for tensor in reader.tensors:
        for part in tensor.field.parts:
            spans.append((*span(part), "structure", f"info {tensor.name}"))
        end = tensor.data_offset + tensor.n_bytes
        spans.append((tensor.data_offset, end, "data", tensor.name))
    return sorted(spans), int(reader.data_offset), int(reader.data.size)


def region_of(spans, offset):
    for start, end, kind, name in spans:
        if start <= offset < end:
            return kind, name
    return "padding", ""


def flip_bytes(data, offsets, rng):
    data = bytearray(data)
    for offset in offsets:
        data[offset] ^= rng.randint(1, 255)
    return bytes(data)


class Mutation:
    """One mutated checkpoint: how to make it and how to judge a load that
    differs silently (`if_different`: an outcome, or a callable of the
    mutated path returning one)."""

    def __init__(self, fmt, family, kind, desc, make, if_different=WRONG):
        self.fmt, self.family, self.kind, self.desc = fmt, family, kind, desc
        self.make, self.if_different = make, if_different
        self.must_change = False


class GGUFBase:
    """A family's tiny model, its file, clean signature and regions."""

    def __init__(self, family, work, seed):
        import keras
        import numpy as np
        from gguf_files import tiny_causal_lm
        from gguf_files import write_gguf

        from keras_mathft.models import convert_gguf
        from keras_mathft.models import load_gguf

        self.family = family
        keras.utils.set_random_seed(seed)
        self.source = tiny_causal_lm(family)
        self.path = write_gguf(self.source, work / f"{family}.gguf")
        self.cache = work / f"{family}-cache"
        self.entry = pathlib.Path(convert_gguf(self.path, cache_dir=self.cache))
        self.clean = signature(load_gguf(self.path, cache_dir=self.cache))
        source = signature(self.source)
        self.source_gap = same(self.clean, source)
        self.reference = (source[0], self.clean[1])
        self.spans, self.data_offset, self.size = gguf_regions(self.path)
        reader = _gguf().GGUFReader(str(self.path))
        self.fields = {
            k: f for k, f in reader.fields.items() if not k.startswith("GGUF.")
        }
        self.arch = self.fields["general.architecture"].contents()
        self.tensors = {t.name: np.array(t.data) for t in reader.tensors}
        self.vocab = len(self.fields["tokenizer.ggml.tokens"].contents())
        self.work = work


def _types():
    return _gguf().GGUFValueType


def numeric_fields(base):
    """The numeric fields the importer reads for this file, with their
    kind: `int` (sizes), `float`, `id` (token ids), `bool`."""
    arch = base.arch
    fields = {
        f"{arch}.{key}": "int"
        for key in (
            "embedding_length",
            "block_count",
            "feed_forward_length",
            "attention.head_count",
            "attention.head_count_kv",
            "attention.key_length",
            "attention.value_length",
        )
    }
    fields[f"{arch}.attention.layer_norm_rms_epsilon"] = "float"
    fields[f"{arch}.rope.freq_base"] = "float"
    if base.family == "gemma3":
        fields[f"{arch}.attention.sliding_window"] = "int"
        fields[f"{arch}.attention.sliding_window_pattern"] = "int"
        fields[f"{arch}.attn_logit_softcapping"] = "float"
        fields[f"{arch}.final_logit_softcapping"] = "float"
        fields[f"{arch}.rope.scaling.factor"] = "float"  # with type linear
    else:
        fields[f"{arch}.rope.dimension_count"] = "int"
    ids = ["bos_token_id", "eos_token_id", "padding_token_id"]
    flags_ = ["add_bos_token"]
    if base.fields["tokenizer.ggml.model"].contents() == "llama":
        ids.append("unknown_token_id")
        flags_.append("add_space_prefix")
    fields.update({f"tokenizer.ggml.{k}": "id" for k in ids})
    fields.update({f"tokenizer.ggml.{k}": "bool" for k in flags_})
    return fields


def field_values(kind, current, vocab):
    """`[(label, value, type)]` written into a field of `kind`."""
    t = _types()
    values = [
        ("NaN", float("nan"), t.FLOAT32),
        ("inf", float("inf"), t.FLOAT32),
        ("-1", -1, t.INT32),
        ("2**32-1", U32_MAX, t.UINT32),
    ]
    if kind == "float":
        values = [
            ("NaN", float("nan"), t.FLOAT32),
            ("inf", float("inf"), t.FLOAT32),
            ("0", 0.0, t.FLOAT32),
            ("-1", -1.0, t.FLOAT32),
            ("huge 1e30", HUGE_FLOAT, t.FLOAT32),
            ("2**32-1", float(U32_MAX), t.FLOAT32),
        ]
    else:
        values += [("0", 0, t.UINT32), ("huge 1e12", HUGE_INT, t.UINT64)]
    if kind == "int" and isinstance(current, int):
        values.append(("off by one", current + 1, t.UINT32))
    if kind == "id":
        values += [
            ("= vocab", vocab, t.UINT32),
            ("vocab+1000", vocab + 1000, t.UINT32),
        ]
    if kind == "bool":
        flipped = not (True if current is None else bool(current))
        values.append((f"flipped to {flipped}", flipped, t.BOOL))
    return values


def in_range(kind, key, label, value, vocab):
    """Whether a value is one a real file could hold for that field (then
    a silent different load is a valid file's model, not a bug)."""
    if kind == "id":
        return isinstance(value, int) and 0 <= value < vocab
    if kind == "bool":
        return isinstance(value, bool)
    if key.endswith("rope.freq_base"):
        # Real files: 1e4 to 3.6e9 (Gradient's 1M-context Llama 3).
        return isinstance(value, float) and math.isfinite(value) and value > 0
    if key.endswith(("softcapping", "scaling.factor")):
        return isinstance(value, float) and math.isfinite(value) and value > 0
    if key.endswith("sliding_window"):
        # 0 means no window (the importer's documented reading).
        return isinstance(value, int) and 0 <= value < 2**31
    return False


def gguf_systematic(base):
    """Every metadata value, list, name mutation of one family's file."""
    t = _types()
    out = []
    path, fam = base.path, base.family

    def mutation(kind, desc, fields=None, drop=(), if_different=WRONG):
        def make(dest):
            return rewrite(path, dest, fields=fields, drop=drop)

        out.append(Mutation("gguf", fam, kind, desc, make, if_different))

    adds_bos = base.fields.get("tokenizer.ggml.add_bos_token")
    adds_bos = adds_bos is not None and bool(adds_bos.contents())
    for key, kind in numeric_fields(base).items():
        field = base.fields.get(key)
        current = field.contents() if field is not None else None
        for label, value, vtype in field_values(kind, current, base.vocab):
            fields = {key: (value, vtype, None)}
            if key.endswith("rope.scaling.factor"):
                type_key = f"{base.arch}.rope.scaling.type"
                fields[type_key] = ("linear", t.STRING, None)
            ok = in_range(kind, key, label, value, base.vocab)
            mutation(
                "gguf: metadata value",
                f"{key} = {label}",
                fields,
                if_different=VALID_META if ok else WRONG,
            )
            # Another valid start or end token must show in the tokenizer:
            # loaded equal, the importer ignored the field. (A file that
            # adds no start token never uses its `bos_token_id`.)
            out[-1].must_change = (
                ok
                and key.endswith(("eos_token_id", "bos_token_id"))
                and not (key.endswith("bos_token_id") and not adds_bos)
                and value != current
            )
    for label, value in (
        ("NaN", float("nan")),
        ("inf", float("inf")),
        ("0", 0),
        ("-1", -1),
        ("huge 1e12", HUGE_INT),
        ("2**32-1", U32_MAX),
        ("16", 16),
        ("64", 64),
    ):
        out.append(_alignment_mutation(base, label, value))
    # Every score at once, and one token type.
    if "tokenizer.ggml.scores" in base.fields:
        scores = base.fields["tokenizer.ggml.scores"].contents()
        for label, value in (
            ("NaN", float("nan")),
            ("inf", float("inf")),
            ("0", 0.0),
            ("-1", -1.0),
            ("huge 1e30", HUGE_FLOAT),
            ("2**32-1", float(U32_MAX)),
        ):
            finite = math.isfinite(value)
            mutation(
                "gguf: metadata value",
                f"tokenizer.ggml.scores = all {label}",
                {
                    "tokenizer.ggml.scores": (
                        [value] * len(scores),
                        t.ARRAY,
                        t.FLOAT32,
                    )
                },
                if_different=VALID_META if finite else WRONG,
            )
    types = base.fields["tokenizer.ggml.token_type"].contents()
    for label, value, sub in (
        ("NaN", float("nan"), t.FLOAT32),
        ("inf", float("inf"), t.FLOAT32),
        ("0", 0, t.INT32),
        ("-1", -1, t.INT32),
        ("huge 1e12", HUGE_INT, t.INT64),
        ("2**32-1", U32_MAX, t.UINT32),
    ):
        edited = [float(v) if sub == t.FLOAT32 else v for v in types]
        edited[len(edited) // 2] = value
        mutation(
            "gguf: metadata value",
            f"tokenizer.ggml.token_type[{len(types) // 2}] = {label}",
            {"tokenizer.ggml.token_type": (edited, t.ARRAY, sub)},
        )
    # Lists shortened.
    for key in ("tokens", "scores", "token_type", "merges"):
        key = f"tokenizer.ggml.{key}"
        field = base.fields.get(key)
        if field is None:
            continue
        values = field.contents()
        sub = field.types[-1]
        for label, short in (
            ("by one", values[:-1]),
            ("to half", values[: len(values) // 2]),
        ):
            mutation(
                "gguf: list shortened",
                f"{key} shortened {label}",
                {key: (short, t.ARRAY, sub)},
                if_different=VALID_META if key.endswith("merges") else WRONG,
            )
    # Unknown names.
    for value in ("llama4", "", "gemma2"):
        mutation(
            "gguf: unknown name",
            f"general.architecture = {value!r}",
            {"general.architecture": (value, t.STRING, None)},
        )
    model = base.fields["tokenizer.ggml.model"].contents()
    for value in ("bert", "", "llama" if model == "gpt2" else "gpt2"):
        mutation(
            "gguf: unknown name",
            f"tokenizer.ggml.model = {value!r}",
            {"tokenizer.ggml.model": (value, t.STRING, None)},
        )
    if "tokenizer.ggml.pre" in base.fields:
        pre = base.fields["tokenizer.ggml.pre"].contents()
        for value in ("tekken", "", "gpt-2" if pre != "gpt-2" else "qwen2"):
            mutation(
                "gguf: unknown name",
                f"tokenizer.ggml.pre = {value!r}",
                {"tokenizer.ggml.pre": (value, t.STRING, None)},
                if_different=VALID_META if value == "gpt-2" else WRONG,
            )
    return out


def _alignment_mutation(base, label, value):
    """`general.alignment` written as 32 (the layout), then its value
    patched in place (uint32) or written with another type."""
    t = _types()

    def make(dest):
        if isinstance(value, float) or value < 0 or value > U32_MAX:
            vtype = (
                t.FLOAT32
                if isinstance(value, float)
                else (t.INT32 if value < 0 else t.UINT64)
            )
            return rewrite(
                base.path,
                dest,
                fields={"general.alignment": (value, vtype, None)},
            )
        rewrite(
            base.path, dest, fields={"general.alignment": (32, t.UINT32, None)}
        )
        reader = _gguf().GGUFReader(str(dest))
        part = reader.fields["general.alignment"].parts[-1]
        offset = part.ctypes.data - reader.data.ctypes.data
        del reader, part
        data = bytearray(dest.read_bytes())
        data[offset : offset + 4] = struct.pack("<I", value)
        dest.write_bytes(bytes(data))
        return dest

    return Mutation(
        "gguf",
        base.family,
        "gguf: metadata value",
        f"general.alignment = {label}",
        make,
    )


def gguf_random(base, kind, rng):
    """One random mutation of `kind` for a family's file."""
    fam, path = base.family, base.path
    if kind == "gguf: tensor shape":
        return _shape_mutation(base, rng)
    if kind in ("gguf: byte flips, header", "gguf: byte flips, data"):
        header = kind.endswith("header")
        low, high = (
            (0, base.data_offset) if header else (base.data_offset, base.size)
        )
        count = rng.randint(1, 64)
        offsets = sorted(rng.sample(range(low, high), count))
        seed = rng.random()

        def make(dest):
            dest.write_bytes(
                flip_bytes(path.read_bytes(), offsets, random.Random(seed))
            )
            return dest

        regions = [region_of(base.spans, o) for o in offsets]

        def judge(mutated):
            return _judge_flips(base, regions, mutated)

        return Mutation(
            "gguf",
            fam,
            kind,
            f"{count} bytes at {offsets[0]}..{offsets[-1]}",
            make,
            judge,
        )
    if kind == "gguf: truncation":
        length = rng.randrange(0, base.size)

        def make(dest):
            dest.write_bytes(path.read_bytes()[:length])
            return dest

        return Mutation(
            "gguf", fam, kind, f"cut at {length} of {base.size}", make
        )
    if kind == "gguf: cache damage":
        return _cache_mutation(base, rng)
    raise AssertionError(kind)


def _judge_flips(base, regions, mutated):
    """A silent different load after byte flips: a valid file only when
    every flip is inside float32 tensor data or padding (finite values) or
    inside metadata values."""
    import numpy as np

    kinds = {kind for kind, _ in regions}
    if not kinds <= {"data", "padding", "value"}:
        return WRONG
    reader = _gguf().GGUFReader(str(mutated))
    for tensor in reader.tensors:
        if not np.isfinite(np.asarray(tensor.data, "float32")).all():
            return WRONG
    if kinds <= {"data", "padding"}:
        return VALID_WEIGHTS
    for key in {name for kind, name in regions if kind == "value"}:
        value = reader.fields[key].contents()
        numbers = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
            return WRONG
    return VALID_META


def _shape_mutation(base, rng):
    fam, path = base.family, base.path
    tensors = base.tensors
    how = rng.choice(["transpose", "reshape", "drop", "extra"])
    if how == "transpose":
        names = [
            n
            for n, a in tensors.items()
            if a.ndim == 2 and a.shape[0] != a.shape[1]
        ]
        name = rng.choice(names)
        edit, drop = {name: tensors[name].T}, ()
    elif how == "reshape":
        name = rng.choice(sorted(tensors))
        array = tensors[name]
        if array.ndim == 1:
            shape = (2, array.size // 2)
        else:
            shape = (array.shape[0] * 2, array.shape[1] // 2)
        edit, drop = {name: array.reshape(shape)}, ()
    elif how == "drop":
        name = rng.choice(sorted(tensors))
        edit, drop = {}, (name,)
    else:
        hidden = tensors["token_embd.weight"].shape[1]
        layers = base.fields[f"{base.arch}.block_count"].contents()
        vocab = tensors["token_embd.weight"].shape[0]
        choices = {
            f"blk.{layers}.attn_norm.weight": (hidden,),
            "foo.weight": (hidden,),
            "blk.0.attn_q.bias": (hidden,),
            "blk.0.ffn_gate_exps.weight": (2, 32, hidden),
            "rope_freqs.weight": (4,),
        }
        if "output.weight" not in tensors:
            choices["output.weight"] = (vocab, hidden)
        name = rng.choice(sorted(n for n in choices if n not in tensors))
        seed = rng.randrange(2**31)
        import numpy as np

        array = np.random.default_rng(seed).normal(0, 0.2, choices[name])
        edit, drop = {name: array.astype("float32")}, ()
    head = name == "output.weight"

    def make(dest):
        return rewrite(path, dest, drop=drop, tensors=edit)

    mutation = Mutation(
        "gguf",
        fam,
        "gguf: tensor shape",
        f"{how} {name}",
        make,
        VALID_HEAD if head else WRONG,
    )
    # An added head must change the model (random values); a dropped one
    # does unless it equals the embedding.
    mutation.must_change = head
    return mutation


def _cache_mutation(base, rng):
    from keras_mathft.models import gguf_cache

    files = sorted(
        p.relative_to(base.entry).as_posix()
        for p in base.entry.rglob("*")
        if p.is_file()
    )
    name = rng.choice(files)
    damages = ["flip", "truncate", "empty", "delete", "random bytes"]
    if name in ("config.json", gguf_cache.SOURCE_FILE):
        damages += ["garbage JSON", "a JSON list"]
    damage = rng.choice(damages)
    seed = rng.random()

    def make(dest):
        cache = dest.parent / (dest.name + "-cache")
        shutil.copytree(base.cache, cache)
        target = cache / base.entry.name / name
        data = target.read_bytes()
        r = random.Random(seed)
        if damage == "flip":
            count = r.randint(1, min(64, len(data)))
            offsets = r.sample(range(len(data)), count)
            target.write_bytes(flip_bytes(data, offsets, r))
        elif damage == "truncate":
            target.write_bytes(data[: r.randrange(len(data))])
        elif damage == "empty":
            target.write_bytes(b"")
        elif damage == "delete":
            target.unlink()
        elif damage == "random bytes":
            target.write_bytes(
                bytes(r.randrange(256) for _ in range(len(data)))
            )
        elif damage == "garbage JSON":
            target.write_text("{garbage")
        else:
            target.write_text("[1, 2]")
        return base.path, cache

    return Mutation(
        "gguf", base.family, "gguf: cache damage", f"{damage} {name}", make
    )


# === HF folders ===


class HFBase:
    """A family's tiny model and its `export_hf` folder."""

    def __init__(self, family, work, seed):
        from hf_models import deterministic_causal_lm

        from keras_mathft.models import MathSolver
        from keras_mathft.models.hf_export import export_hf

        self.family = family
        self.source = deterministic_causal_lm(family, seed=seed)
        self.folder = pathlib.Path(
            export_hf(self.source, work / f"hf-{family}")
        )
        self.config = json.loads((self.folder / "config.json").read_text())
        clean = signature(MathSolver.from_preset(str(self.folder)).causal_lm)
        source = signature(self.source)
        self.source_gap = same(clean, source)
        self.reference = (source[0], clean[1])
        weights = self.folder / "model.safetensors"
        self.size = weights.stat().st_size
        data = weights.read_bytes()
        header_len = struct.unpack("<Q", data[:8])[0]
        self.header_end = 8 + header_len
        header = json.loads(data[8 : self.header_end])
        self.spans = sorted(
            (
                self.header_end + v["data_offsets"][0],
                self.header_end + v["data_offsets"][1],
                "data",
                k,
            )
            for k, v in header.items()
            if k != "__metadata__"
        )
        self.dtypes = {
            v["dtype"] for k, v in header.items() if k != "__metadata__"
        }


def hf_systematic(base):
    out = []
    config = base.config

    def edit(desc, change, if_different=WRONG):
        def make(dest):
            shutil.copytree(base.folder, dest)
            text = change(dict(config))
            if not isinstance(text, str):
                text = json.dumps(text)
            (dest / "config.json").write_text(text)
            return dest

        out.append(
            Mutation(
                "hf",
                base.family,
                "hf: config.json edit",
                desc,
                make,
                if_different,
            )
        )

    def setter(key, value):
        return lambda c: {**c, key: value}

    for key, deltas in (
        ("num_hidden_layers", ("+1", "-1")),
        ("hidden_size", ("x2", "/2")),
        ("vocab_size", ("+1", "-1")),
        ("num_attention_heads", ("x2",)),
        ("intermediate_size", ("+1",)),
    ):
        current = config[key]
        for delta in deltas:
            value = {
                "+1": current + 1,
                "-1": current - 1,
                "x2": current * 2,
                "/2": current // 2,
            }[delta]
            edit(f"{key} {delta}", setter(key, value))
        for label, value in (
            ("NaN", float("nan")),
            ("0", 0),
            ("-1", -1),
            ("huge 1e12", HUGE_INT),
            ("2**32-1", U32_MAX),
            ("a string", str(current)),
        ):
            edit(f"{key} = {label}", setter(key, value))
    for key in ("rms_norm_eps", "rope_theta"):
        if key not in config:
            continue
        for label, value in (
            ("NaN", float("nan")),
            ("Infinity", float("inf")),
            ("0", 0.0),
            ("-1e-6", -1e-6),
            ("huge 1e30", HUGE_FLOAT),
            ("2**32-1", float(U32_MAX)),
        ):
            # A RoPE base is any positive number (real: 1e4 to 3.6e9).
            valid = key == "rope_theta" and math.isfinite(value) and value > 0
            edit(
                f"{key} = {label}",
                setter(key, value),
                VALID_META if valid else WRONG,
            )
    for label, text in (
        ("{garbage", "{garbage"),
        ("empty", ""),
        ("a JSON list", "[]"),
        ("null", "null"),
        ("{}", "{}"),
        ("cut in half", None),
        ("no model_type", "drop"),
    ):
        if text is None:
            text = json.dumps(config)[: len(json.dumps(config)) // 2]
        elif text == "drop":
            text = {k: v for k, v in config.items() if k != "model_type"}
        edit(f"config.json: {label}", lambda c, text=text: text)
    return out


def hf_random(base, kind, rng):
    weights = "model.safetensors"
    if kind.startswith("hf: safetensors byte flips"):
        header = kind.endswith("header")
        low, high = (
            (0, base.header_end) if header else (base.header_end, base.size)
        )
        count = rng.randint(1, min(64, high - low))
        offsets = sorted(rng.sample(range(low, high), count))
        seed = rng.random()

        def make(dest):
            shutil.copytree(base.folder, dest)
            data = (dest / weights).read_bytes()
            (dest / weights).write_bytes(
                flip_bytes(data, offsets, random.Random(seed))
            )
            return dest

        def judge(mutated):
            if any(o < base.header_end for o in offsets):
                return WRONG
            import numpy as np
            from safetensors.numpy import load_file

            arrays = load_file(str(mutated / weights))
            if not all(np.isfinite(a).all() for a in arrays.values()):
                return WRONG
            return VALID_WEIGHTS

        return Mutation(
            "hf",
            base.family,
            kind,
            f"{count} bytes at {offsets[0]}..{offsets[-1]}",
            make,
            judge,
        )
    length = rng.randrange(0, base.size)

    def make(dest):
        shutil.copytree(base.folder, dest)
        data = (dest / weights).read_bytes()
        (dest / weights).write_bytes(data[:length])
        return dest

    return Mutation(
        "hf", base.family, kind, f"cut at {length} of {base.size}", make
    )


# === The fuzz ===

GGUF_RANDOM = (
    "gguf: tensor shape",
    "gguf: byte flips, header",
    "gguf: byte flips, data",
    "gguf: truncation",
    "gguf: cache damage",
)
HF_RANDOM = (
    "hf: safetensors byte flips, header",
    "hf: safetensors byte flips, data",
    "hf: safetensors truncation",
)
ROWS = (
    "gguf: tensor shape",
    "gguf: metadata value",
    "gguf: list shortened",
    "gguf: unknown name",
    "gguf: byte flips, header",
    "gguf: byte flips, data",
    "gguf: truncation",
    "gguf: cache damage",
    "hf: config.json edit",
    "hf: safetensors byte flips, header",
    "hf: safetensors byte flips, data",
    "hf: safetensors truncation",
)


def run_mutation(mutation, base, scratch):
    from keras_mathft.models import MathSolver
    from keras_mathft.models import load_gguf

    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    dest = scratch / ("m.gguf" if mutation.fmt == "gguf" else "folder")
    made = mutation.make(dest)
    if mutation.fmt == "gguf":
        if isinstance(made, tuple):  # cache damage: the clean file
            path, cache = made
        else:
            path, cache = made, scratch / "cache"

        def load():
            return load_gguf(path, cache_dir=cache)

    else:

        def load():
            return MathSolver.from_preset(str(made)).causal_lm

    outcome, detail, gap = attempt(load, base.reference)
    if outcome is EQUAL and mutation.must_change:
        outcome, detail = WRONG, "loaded equal: part of the file was ignored"
    if outcome is None:
        judge = mutation.if_different
        outcome = judge(made) if callable(judge) else judge
        detail = detail or f"max |logit diff| {gap:.3g}"
    return outcome, detail


def build_plan(work):
    """The bases and the seeded list of `(mutation, base)`; every worker
    builds the same one."""
    rng = random.Random(FLAGS.seed)
    info = []
    gguf_bases = {f: GGUFBase(f, work, FLAGS.seed) for f in FLAGS.gguf_families}
    hf_bases = {}
    for family in FLAGS.hf_families:
        try:
            hf_bases[family] = HFBase(family, work, FLAGS.seed)
        except ValueError as error:
            info.append(
                f"SKIPPED hf {family}: its clean export_hf folder does not "
                f"load: {_first_line(error)}"
            )
    named = [
        *gguf_bases.items(),
        *[(f"hf {k}", v) for k, v in hf_bases.items()],
    ]
    for name, base in named:
        info.append(
            f"clean {name}: loads equal to the source model: "
            f"{base.source_gap[0]} (max |logit diff| {base.source_gap[1]:.2g})"
        )
    systematic = []
    for base in gguf_bases.values():
        systematic += [(m, base) for m in gguf_systematic(base)]
    for base in hf_bases.values():
        systematic += [(m, base) for m in hf_systematic(base)]
    cells = [(b, k) for b in gguf_bases.values() for k in GGUF_RANDOM]
    cells += [(b, k) for b in hf_bases.values() for k in HF_RANDOM]
    if FLAGS.mutations < len(systematic):
        mutations = rng.sample(systematic, FLAGS.mutations)
    else:
        mutations = list(systematic)
        for i in range(FLAGS.mutations - len(systematic)):
            base, kind = cells[i % len(cells)]
            make = gguf_random if isinstance(base, GGUFBase) else hf_random
            mutations.append((make(base, kind, rng), base))
    info.append(
        f"{len(mutations)} mutations ({min(len(systematic), len(mutations))} "
        f"systematic, the rest random over {len(cells)} family x kind cells)"
    )
    return mutations, info


def run_worker():
    """Runs mutations `--start` on, one JSON line each."""
    import resource

    # A hostile size must fail with MemoryError, not swap the machine.
    limit = 8 << 30
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    work = pathlib.Path(FLAGS.target)
    mutations, info = build_plan(work)
    for line in info:
        print("INFO " + line, flush=True)
    scratch = work / "scratch"
    for index in range(FLAGS.start, len(mutations)):
        mutation, base = mutations[index]
        record = dict(
            index=index,
            fmt=mutation.fmt,
            family=mutation.family,
            kind=mutation.kind,
            desc=mutation.desc,
        )
        print("START " + json.dumps(record), flush=True)
        outcome, detail = run_mutation(mutation, base, scratch)
        record.update(outcome=outcome, detail=detail)
        print("RESULT " + json.dumps(record), flush=True)
    print(f"END {len(mutations)}", flush=True)


def _worker(work, start):
    args = [
        sys.executable,
        os.path.abspath(__file__),
        "--role=worker",
        f"--start={start}",
        f"--target={work}",
        f"--mutations={FLAGS.mutations}",
        f"--seed={FLAGS.seed}",
        f"--gguf_families={','.join(FLAGS.gguf_families)}",
        f"--hf_families={','.join(FLAGS.hf_families)}",
    ]
    err = open(work.parent / f"{work.name}.stderr", "w")
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    return proc, work.parent / f"{work.name}.stderr"


def _crash_reason(stderr_path):
    lines = pathlib.Path(stderr_path).read_text(errors="replace").splitlines()
    for line in lines:
        if "Check failed" in line or "Fatal Python error" in line:
            return line.strip()[:160]
    return (lines[-1].strip() if lines else "no output")[:160]


def fuzz(work):
    """Runs the mutations in worker processes (restarted after a crash or
    a hang, which count as their own outcome) and prints the tables."""
    import threading

    print("\n## Fuzz: mutated GGUF files and HF folders")
    start = time.perf_counter()
    results, infos, total, next_index, starts = [], None, None, 0, 0
    while total is None or next_index < total:
        folder = work / f"worker-{starts}"
        folder.mkdir()
        proc, stderr_path = _worker(folder, next_index)
        starts += 1
        lines = []
        timer = None
        current = None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if timer is not None:
                timer.cancel()
            if line.startswith("INFO ") and infos is None:
                lines.append(line[5:])
            elif line.startswith("START "):
                current = json.loads(line[6:])
                if infos is None:
                    infos = lines
                    for info in infos:
                        print(info, flush=True)
                timer = threading.Timer(FLAGS.timeout, proc.kill)
                timer.start()
            elif line.startswith("RESULT "):
                record = json.loads(line[7:])
                results.append(record)
                next_index = record["index"] + 1
                current = None
                if FLAGS.verbose:
                    print(_line(record), flush=True)
                elif len(results) % 100 == 0:
                    seconds = time.perf_counter() - start
                    print(
                        f"  {len(results)} done in {seconds:.0f} s", flush=True
                    )
            elif line.startswith("END "):
                total = int(line.split()[1])
        if timer is not None:
            timer.cancel()
        code = proc.wait()
        if current is not None:
            # Died on a mutation: it is counted, the rest run in a new
            # worker.
            reason = (
                f"killed: no result within {FLAGS.timeout} s, or out of memory"
                if code == -signal.SIGKILL
                else f"exit {code}: {_crash_reason(stderr_path)}"
            )
            results.append(dict(current, outcome=CRASHED, detail=reason))
            next_index = current["index"] + 1
        elif code != 0:
            reason = _crash_reason(stderr_path)
            raise RuntimeError(f"worker failed outside a mutation: {reason}")
        shutil.rmtree(folder, ignore_errors=True)
    seconds = time.perf_counter() - start
    _report(results, seconds, starts)


def _line(r):
    kind = r["kind"].split(": ", 1)[-1]
    line = f"{r['fmt']} {r['family']}: {kind}: {r['desc']} -> {r['outcome']}"
    return line + (f" ({r['detail']})" if r["detail"] else "")


def _report(results, seconds, starts):
    counts = collections.defaultdict(collections.Counter)
    families = collections.defaultdict(collections.Counter)
    for r in results:
        counts[r["kind"]][r["outcome"]] += 1
        families[f"{r['fmt']} {r['family']}"][r["outcome"]] += 1
    header = ["mutation", "files", *OUTCOMES]
    rows = []
    for kind in ROWS:
        if counts[kind]:
            c = counts[kind]
            rows.append((kind, sum(c.values()), *(c[o] for o in OUTCOMES)))
    totals = collections.Counter()
    for c in counts.values():
        totals.update(c)
    rows.append(
        ("**all**", sum(totals.values()), *(totals[o] for o in OUTCOMES))
    )
    print(markdown_table(header, rows))
    print("\nBy family:")
    print(
        markdown_table(
            ["family", "files", *OUTCOMES],
            [
                (f, sum(c.values()), *(c[o] for o in OUTCOMES))
                for f, c in families.items()
            ],
        )
    )
    for outcome in (
        WRONG,
        UNDOCUMENTED,
        CRASHED,
        WARNED_DIFFERENT,
        VALID_HEAD,
        VALID_META,
    ):
        chosen = [r for r in results if r["outcome"] == outcome]
        if chosen:
            print(f"\n{outcome} ({len(chosen)}):")
            for r in chosen:
                print("  " + _line(r))
    overflow = [
        r
        for r in results
        if r["outcome"] == VALID_WEIGHTS and r["detail"] == "logits not finite"
    ]
    if overflow:
        print(
            f"\n{VALID_WEIGHTS}, every stored value finite but the logits "
            f"not ({len(overflow)}):"
        )
        for r in overflow:
            print("  " + _line(r))
    kinds = collections.Counter(
        r["detail"].split(":")[0]
        for r in results
        if r["outcome"] == UNDOCUMENTED
    )
    print(
        f"\n{len(results)} mutated files in {seconds:.0f} s ({starts} worker "
        f"processes): {totals[WRONG]} loaded wrong silently, "
        f"{totals[UNDOCUMENTED]} undocumented exceptions {dict(kinds)}, "
        f"{totals[CRASHED]} crashed or hung"
    )


# === Kills ===


def child_args(task, target, source=None):
    args = [
        sys.executable,
        os.path.abspath(__file__),
        "--role=child",
        f"--task={task}",
        f"--target={target}",
        f"--seed={FLAGS.seed}",
    ]
    if source:
        args.append(f"--source={source}")
    return args


def start_child(task, target, source=None):
    return subprocess.Popen(
        child_args(task, target, source),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )


def run_child():
    if FLAGS.task == "export":
        from hf_models import deterministic_causal_lm

        from keras_mathft.models.hf_export import export_hf

        causal_lm = deterministic_causal_lm("llama3", seed=FLAGS.seed)
        # A first export elsewhere, so that the clock (and the kill)
        # covers the export's own work, not first-call set-up.
        with tempfile.TemporaryDirectory() as warm:
            export_hf(causal_lm, pathlib.Path(warm) / "warm")
        print("STARTED", flush=True)
        export_hf(causal_lm, FLAGS.target)
    else:
        from keras_mathft.models import convert_gguf

        with tempfile.TemporaryDirectory() as warm:
            convert_gguf(FLAGS.source, cache_dir=warm)
        print("STARTED", flush=True)
        convert_gguf(FLAGS.source, cache_dir=FLAGS.target)
    print("DONE", flush=True)


def timed_child(task, target, source=None):
    """An uninterrupted child run; seconds from STARTED to DONE."""
    proc = start_child(task, target, source)
    assert proc.stdout.readline().startswith("STARTED"), proc.stderr.read()[
        -3000:
    ]
    start = time.perf_counter()
    assert proc.stdout.readline().startswith("DONE"), proc.stderr.read()[-3000:]
    seconds = time.perf_counter() - start
    assert proc.wait() == 0
    return seconds


def killed_child(task, target, delay, source=None):
    """Starts a child, SIGKILLs it `delay` s after STARTED; whether the
    signal landed before it finished."""
    proc = start_child(task, target, source)
    line = proc.stdout.readline()
    assert line.startswith("STARTED"), proc.stderr.read()[-3000:]
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    code = proc.wait()
    rest = proc.stdout.read()
    if code not in (0, -signal.SIGKILL):
        raise RuntimeError(proc.stderr.read()[-3000:])
    return code == -signal.SIGKILL and "DONE" not in rest


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(
            p.read_bytes()
        ).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _names(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _size(path):
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


KILL_HEADER = [
    "run",
    "kill after (s)",
    "the kill found",
    "staging folders at the kill (bytes)",
    "left beyond finished targets after the next call",
    "bytes left",
    "finished target correct",
]


def _phase(hit, staged, complete):
    """What a kill interrupted, from what it left."""
    if not hit:
        return "the call finished"
    if complete:
        return "entry renamed into place, staging not yet removed"
    if not staged:
        return "nothing staged yet"
    if sum(_size(p) for p in staged) == 0:
        return "staging folder, nothing written"
    return "files half written"


def kill_campaign(title, folder, seconds, rng, one_run):
    """Kills runs until `--kills` landed; prints one row per run.

    `one_run(run, delay)` starts a child, kills it `delay` s after it
    starts, makes the next call and returns `(landed, staged, complete,
    finished names, target correct)`.
    """
    rows, landed, run, finished = [], 0, 0, set()
    while landed < FLAGS.kills:
        # Up to twice the measured duration: the child's pace varies on
        # shared cores, and the last steps (renames, clean-up) count too.
        delay = rng.uniform(0, 2 * seconds)
        hit, staged, complete, names, ok = one_run(run, delay)
        landed += hit
        finished |= names
        left = [p for p in folder.iterdir() if p.name not in finished]
        rows.append(
            (
                run,
                f"{delay:.3f}",
                _phase(hit, staged, complete and hit),
                f"{len(staged)} ({sum(_size(p) for p in staged)})",
                len(left),
                sum(_size(p) for p in left),
                ok,
            )
        )
        run += 1
    print(f"\n## {title}; kills uniform over twice that")
    print(markdown_table(KILL_HEADER, rows))
    phases = collections.Counter(r[2] for r in rows)
    print(
        markdown_table(
            ["the kill found", "runs", "names left", "bytes left", "wrong"],
            [
                (
                    phase,
                    n,
                    sum(r[4] for r in rows if r[2] == phase),
                    sum(r[5] for r in rows if r[2] == phase),
                    sum(not r[6] for r in rows if r[2] == phase),
                )
                for phase, n in phases.items()
            ],
        )
    )
    print(
        f"{landed} kills landed in {len(rows)} runs ({dict(phases)}); after "
        f"the next calls {sum(r[4] for r in rows)} names and "
        f"{sum(r[5] for r in rows)} bytes were left beyond the finished "
        f"targets; {sum(not r[6] for r in rows)} finished targets wrong. "
        f"{folder.name}/ now holds: {sorted(p.name for p in folder.iterdir())}"
    )


def kills(work):
    """SIGKILLs during `export_hf`, then during `convert_gguf`."""
    from hf_models import deterministic_causal_lm

    from keras_mathft.models.hf_export import export_hf

    rng = random.Random(FLAGS.seed)
    source = deterministic_causal_lm("llama3", seed=FLAGS.seed)
    reference = _digests(pathlib.Path(export_hf(source, work / "export-ref")))
    seconds = statistics.median(
        timed_child("export", work / f"export-timing-{i}") for i in range(3)
    )
    parent = work / "exports"
    parent.mkdir()

    def one_run(run, delay):
        target = parent / f"run-{run}"
        hit = killed_child("export", target, delay)
        staged = [p for p in parent.iterdir() if p.name.startswith(".")]
        complete = target.exists()
        ok = not complete or _digests(target) == reference
        # The next call, to completion: the same target unless the killed
        # call finished it.
        following = parent / f"run-{run}-next" if complete else target
        export_hf(source, following)
        ok = ok and _digests(following) == reference
        return hit, staged, complete, {target.name, following.name}, ok

    kill_campaign(
        f"Kill -9 during export_hf (tiny Llama 3, "
        f"{_size(work / 'export-ref')} bytes; uninterrupted export "
        f"{seconds:.3f} s in a warmed-up child, median of 3)",
        parent,
        seconds,
        rng,
        one_run,
    )
    convert_kills(work, rng)


def convert_kills(work, rng):
    import keras
    from gguf_files import tiny_causal_lm
    from gguf_files import write_gguf

    from keras_mathft.models import convert_gguf
    from keras_mathft.models import gguf_cache
    from keras_mathft.models import load_gguf

    keras.utils.set_random_seed(FLAGS.seed)
    source_lm = tiny_causal_lm("llama3")
    base = write_gguf(source_lm, work / "kill-base.gguf")
    reference = signature(source_lm)
    t = _types()

    def source_file(i):
        path = work / f"kill-{i}.gguf"
        if not path.exists():
            name = {"general.name": (f"kill {i}", t.STRING, None)}
            rewrite(base, path, fields=name)
        return path

    timing = work / "timing-cache"
    seconds = statistics.median(
        timed_child("convert", timing / str(i), source_file("timing"))
        for i in range(3)
    )
    # What an uninterrupted conversion leaves in its entry.
    entry = next(p for p in (timing / "0").iterdir() if p.is_dir())
    entry_names = _names(entry)
    cache = work / "gguf-cache"

    def one_run(run, delay):
        path = source_file(run)
        digest = gguf_cache.file_sha256(path)
        hit = killed_child("convert", cache, delay, path)
        staged = [p for p in cache.iterdir() if p.name.startswith(".tmp")]
        complete = (cache / digest).exists()
        # The next call, to completion (a load of the same file).
        preset = pathlib.Path(convert_gguf(path, cache_dir=cache))
        info = json.loads((preset / gguf_cache.SOURCE_FILE).read_text())
        ok = gguf_cache.damage(preset, info) is None
        ok = ok and _names(preset) == entry_names
        loaded = signature(load_gguf(path, cache_dir=cache))
        ok = ok and same(loaded, reference)[0]
        keras.backend.clear_session()
        return hit, staged, complete, {digest, f".{digest}.lock"}, ok

    kill_campaign(
        f"Kill -9 during convert_gguf (tiny Llama 3 files, one per run, "
        f"{base.stat().st_size} bytes each; uninterrupted conversion "
        f"{seconds:.3f} s in a warmed-up child, median of 3)",
        cache,
        seconds,
        rng,
        one_run,
    )
    print(
        "(the `.<sha256>.lock` files are the entries' lock files: empty, "
        "one per source file, kept by design)"
    )


def main(argv):
    del argv
    if FLAGS.role == "child":
        run_child()
        return
    if FLAGS.role == "worker":
        run_worker()
        return
    import importlib.metadata

    import keras
    import keras_hub

    print(
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"keras {keras.__version__}, keras-hub {keras_hub.__version__}, "
        f"gguf {importlib.metadata.version('gguf')}, backend "
        f"{keras.config.backend()}"
    )
    print(
        "Settings: "
        + json.dumps(
            {
                k: getattr(FLAGS, k)
                for k in (
                    "experiments",
                    "mutations",
                    "kills",
                    "seed",
                    "gguf_families",
                    "hf_families",
                )
            }
        )
    )
    logging.getLogger("absl").setLevel(logging.WARNING)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        for name in FLAGS.experiments:
            began = time.perf_counter()
            {"fuzz": fuzz, "kills": kills}[name](work)
            print(f"{name}: {time.perf_counter() - began:.0f} s wall")
    print(f"\nWall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    app.run(main)
