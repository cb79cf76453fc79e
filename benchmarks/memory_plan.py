"""Per-device memory of fine-tuning and sampling real model sizes on an
8-device mesh, from XLA's own memory analysis: which mesh each size needs.

Gemma 3 1B, 4B and 12B (text) and Qwen2.5-Math-7B, with the backbone
arguments of their published configs. No weight is ever allocated: each
model is built under `keras.StatelessScope` (Keras defers its variables)
and the recipe's own programs are lowered by `jax.jit` on abstract arrays
(`jax.ShapeDtypeStruct`, each with the sharding the family's layout gives,
`models.sharding`) for 8 virtual CPU devices, which stand for a v5e-8 or
8 GPUs. XLA compiles them for that mesh and `compiled.memory_analysis()`
gives the per-device arguments, outputs (less the donated buffers they
reuse) and temporaries; their sum is the device's peak.

Programs (`--modes`):
- `full_f32`, `full_bf16`: Keras' train step of `MathSolver` (SSFT, the
  generation objective) with AdamW, float32 or bfloat16 weights (the
  optimizer state takes the weights' dtype), `--batch_size` rows of
  `--sequence_length` tokens.
- `lora`: the same on bfloat16 weights with LoRA of `--lora_rank` on
  keras-hub's default layers (query and value).
- `sample`: one decode block of the sampler's continuous schedule
  (`sampling.decoding.DecodePrograms.decode_block`): `--num_samples`
  rows of `--total_length` tokens (KV cache) and `--max_new_tokens`
  generated, bfloat16 weights, top-p.

Meshes (`--meshes`): `batch:8` is data parallelism (weights replicated),
the others `ModelParallel` with the family's layout. Compiling a whole
26- to 48-layer program for 8 devices takes minutes on 2 cores, so each
is compiled with 1 and 2 decoder blocks and scaled by the layer count,
`m(L) = m(1) + (L - 1) (m(2) - m(1))`; `--check=MODEL:MODE:MESH`
compiles that one whole and prints both.

XLA's CPU compiler has no bfloat16 matmul: it computes bfloat16 dots on
float32 copies of the weights, which a TPU or GPU compiler never makes
(for sampling, a whole float32 model, hoisted out of the decode loop).
So bfloat16 programs get two peaks: `peak`, XLA:CPU's, and `peak*`, with
the temporaries (`temp*`) of the same program on float32 weights, whose
float32 activations bound bfloat16 ones from above. The meshes advised
are those whose `peak*` leaves a tenth of the device free.

`--measure` checks the analysis against a run: a small Gemma 3
(`--measure_config`) trains one step for real on the 8 CPU devices, in a
fresh process, and the growth of the process's peak resident memory
during the step is compared with XLA's prediction of what the step adds,
`8 x (temporaries + outputs - aliased)`.

    KERAS_BACKEND=jax python benchmarks/memory_plan.py
    KERAS_BACKEND=jax python benchmarks/memory_plan.py --models=gemma3_1b \\
        --modes=full_bf16 --meshes=batch:2,model:4 \\
        --check=gemma3_1b:full_bf16:batch:2,model:4 --measure
"""

import json
import os
import platform
import subprocess
import sys
import time
from unittest import mock

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("KERAS_BACKEND", "jax")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "models",
    ["gemma3_1b", "gemma3_4b", "gemma3_12b", "qwen2.5_math_7b"],
    "Model sizes (see CONFIGS).",
)
flags.DEFINE_list(
    "modes", ["full_f32", "full_bf16", "lora", "sample"], "Programs."
)
flags.DEFINE_string(
    "meshes",
    "batch:8;batch:4,model:2;batch:2,model:4;batch:1,model:8",
    "Semicolon-separated meshes over the 8 devices.",
)
flags.DEFINE_integer("batch_size", 8, "Training rows per step (global).")
flags.DEFINE_integer("sequence_length", 1024, "Training tokens per row.")
flags.DEFINE_integer("lora_rank", 8, "LoRA rank (mode lora).")
flags.DEFINE_integer("num_samples", 64, "Sampled rows decoded at once (N).")
flags.DEFINE_integer("total_length", 1024, "Sampled rows' cache length.")
flags.DEFINE_integer("max_new_tokens", 768, "Sampled rows' new tokens.")
flags.DEFINE_string(
    "check", None, "MODEL:MODE:MESH compiled whole, against the scaling."
)
flags.DEFINE_bool("measure", False, "Check against a real step's memory.")
flags.DEFINE_string(
    "measure_config",
    "vocabulary_size=32768,num_layers=2,hidden_dim=1024,"
    "intermediate_dim=4096,num_query_heads=8,num_key_value_heads=4,"
    "head_dim=128",
    "Backbone arguments of the measured small Gemma 3.",
)
flags.DEFINE_string("measure_mesh", "batch:2,model:4", "Its mesh.")
flags.DEFINE_integer("measure_batch", 8, "Its rows per step.")
flags.DEFINE_integer("measure_length", 512, "Its tokens per row.")
flags.DEFINE_string("json_out", None, "Also write the results here.")
flags.DEFINE_string("child", None, "Internal: the measured run, as JSON.")

GIB = 2**30
LIMITS_GB = (16, 80)
# Published text configs (Hugging Face config.json) as keras-hub backbone
# arguments; Gemma 3 4B and 12B share the vision models' vocabulary.
_GEMMA3 = dict(
    image_size=None,
    vision_encoder=None,
    query_head_dim_normalize=True,
    use_query_key_norm=True,
    use_post_ffw_norm=True,
    use_post_attention_norm=True,
    use_sliding_window_attention=True,
    head_dim=256,
)
CONFIGS = {
    "gemma3_1b": (
        "gemma3",
        dict(
            _GEMMA3,
            vocabulary_size=262144,
            num_layers=26,
            num_query_heads=4,
            num_key_value_heads=1,
            hidden_dim=1152,
            intermediate_dim=6912,
            sliding_window_size=512,
        ),
    ),
    "gemma3_4b": (
        "gemma3",
        dict(
            _GEMMA3,
            vocabulary_size=262208,
            num_layers=34,
            num_query_heads=8,
            num_key_value_heads=4,
            hidden_dim=2560,
            intermediate_dim=10240,
            sliding_window_size=1024,
            global_rope_scaling_factor=8.0,
        ),
    ),
    "gemma3_12b": (
        "gemma3",
        dict(
            _GEMMA3,
            vocabulary_size=262208,
            num_layers=48,
            num_query_heads=16,
            num_key_value_heads=8,
            hidden_dim=3840,
            intermediate_dim=15360,
            sliding_window_size=1024,
            global_rope_scaling_factor=8.0,
        ),
    ),
    "qwen2.5_math_7b": (
        "qwen",
        dict(
            vocabulary_size=152064,
            num_layers=28,
            num_query_heads=28,
            num_key_value_heads=4,
            hidden_dim=3584,
            intermediate_dim=18944,
            rope_max_wavelength=10000,
            layer_norm_epsilon=1e-6,
            tie_word_embeddings=False,
        ),
    ),
}
FIELDS = ("arguments", "outputs", "aliased", "temporaries")


def build(name, num_layers, mode, dtype=None):
    """A `MathSolver` of `name` with deferred (never allocated) weights."""
    import keras
    import keras_hub

    from keras_mathft.models import FAMILIES
    from keras_mathft.models import MathSolver

    family, config = CONFIGS[name]
    record = FAMILIES[family]
    dtype = dtype or ("float32" if mode == "full_f32" else "bfloat16")
    with keras.StatelessScope(initialize_variables=False):
        backbone = getattr(keras_hub.models, record.backbone)(
            **{**config, "num_layers": num_layers}, dtype=dtype
        )
    # Keras creates the task's own optimizer eagerly: outside the scope.
    lm = getattr(keras_hub.models, record.causal_lm)(
        backbone=backbone, preprocessor=None
    )
    solver = MathSolver(lm, label_token_ids=((5,), (6,)))
    if mode == "lora":
        with keras.StatelessScope(initialize_variables=False):
            solver.enable_lora(FLAGS.lora_rank)
    return solver


def shardings(solver, distribution):
    """Each variable's sharding: its layout; an optimizer variable its
    weight's (Keras names it `<optimizer>/<weight path>_<slot>`)."""
    import jax

    mesh = distribution.device_mesh.backend_mesh
    whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def of(v):
        return distribution.get_variable_layout(v).backend_layout

    weights = {v.path.replace("/", "_"): of(v) for v in solver.variables}

    def of_slot(v):
        name = v.path.split("/", 1)[-1]
        owners = [p for p in weights if name.startswith(p + "_")]
        return weights[max(owners, key=len)] if owners else whole

    return of, of_slot, whole


def abstract(variables, sharding_of):
    import jax

    return [
        jax.ShapeDtypeStruct(tuple(v.shape), v.dtype, sharding=sharding_of(v))
        for v in variables
    ]


def lower_train_step(solver, distribution):
    import jax
    import keras

    solver.compile(keras.optimizers.AdamW(1e-5), objective="generation")
    with keras.StatelessScope(initialize_variables=False):
        solver.optimizer.build(solver.trainable_variables)
    of, of_slot, whole = shardings(solver, distribution)
    state = (
        abstract(solver.trainable_variables, of),
        abstract(solver.non_trainable_variables, of),
        abstract(solver.optimizer.variables, of_slot),
        abstract(solver.metrics_variables, lambda v: whole),
    )
    shape = (FLAGS.batch_size, FLAGS.sequence_length)
    rows = distribution.get_data_layout(shape).backend_layout

    def data(dtype):
        return jax.ShapeDtypeStruct(shape, dtype, sharding=rows)

    batch = (
        {"token_ids": data("int32"), "padding_mask": data("bool")},
        data("int32"),
        data("float32"),
    )
    out = (None, tuple([s.sharding for s in part] for part in state))
    with distribution.scope():
        step = jax.jit(solver.train_step, donate_argnums=0, out_shardings=out)
        return step.lower(state, batch)


def lower_decode_block(solver, distribution):
    import jax
    import keras

    from keras_mathft.models import sharding
    from keras_mathft.sampling import decoding

    lm = solver.causal_lm
    programs = decoding.DecodePrograms(lm, stop_token_ids=(1,), pad_token_id=0)
    # Probes the cache layout (abstractly) before `compile` is patched.
    programs.layout.spec
    captured = {}

    def capture(model, fn, jit_compile=None, donate=()):
        captured.update(fn=fn, donate=donate)
        return fn

    width = FLAGS.max_new_tokens
    with mock.patch.object(decoding, "compile_inference_function", capture):
        programs.decode_block(width, ("top_p", None))
    of, _, whole = shardings(solver, distribution)
    state = (
        abstract(lm.trainable_variables, of),
        abstract(lm.non_trainable_variables, of),
    )

    def stateless(state, *args):
        mapping = list(zip(lm.trainable_variables, state[0]))
        mapping += list(zip(lm.non_trainable_variables, state[1]))
        with keras.StatelessScope(state_mapping=mapping):
            return captured["fn"](*args)

    rows = FLAGS.num_samples
    mesh = distribution.device_mesh
    batch = distribution.batch_dim_name

    def row_array(shape, dtype):
        layout = distribution.get_data_layout(shape).backend_layout
        return jax.ShapeDtypeStruct(shape, dtype, sharding=layout)

    def cache_leaf(spec):
        shape, axis, dtype = spec
        shape = list(shape)
        shape[0], shape[axis] = rows, FLAGS.total_length
        axes = sharding.cache_layout_axes(
            (tuple(shape), axis, dtype), mesh, batch
        )
        layout = keras.distribution.TensorLayout(axes, mesh).backend_layout
        return jax.ShapeDtypeStruct(tuple(shape), dtype, sharding=layout)

    cache = programs.pool_layout.map(cache_leaf)
    loop_state = tuple(
        row_array((rows,), dtype)
        for dtype in ("int32", "int32", "uint32", "int32", "int32", "bool")
    )

    def scalar(dtype):
        return jax.ShapeDtypeStruct((), dtype, sharding=whole)

    args = (
        cache,
        row_array((rows, width), "int32"),
        loop_state,
        scalar("int32"),
        scalar("int32"),
        scalar("float32"),
        scalar("float32"),
    )
    donate = tuple(i + 1 for i in captured["donate"])
    with distribution.scope():
        return jax.jit(stateless, donate_argnums=donate).lower(state, *args)


def memory(name, mode, mesh, num_layers, dtype=None):
    """Per-device bytes of one compiled program, and its compile time."""
    from keras_mathft.models import sharding

    family = CONFIGS[name][0]
    distribution = sharding.mesh_distribution(mesh, family)
    solver = build(name, num_layers, mode, dtype)
    lower = lower_decode_block if mode == "sample" else lower_train_step
    start = time.perf_counter()
    analysis = lower(solver, distribution).compile().memory_analysis()
    seconds = time.perf_counter() - start
    return {
        "arguments": analysis.argument_size_in_bytes,
        "outputs": analysis.output_size_in_bytes,
        "aliased": analysis.alias_size_in_bytes,
        "temporaries": analysis.temp_size_in_bytes,
    }, seconds


def peak(m):
    return m["arguments"] + m["outputs"] - m["aliased"] + m["temporaries"]


def scaled(name, mode, mesh, dtype=None):
    """`m(L) = m(1) + (L - 1) (m(2) - m(1))` per field (a step that
    shrinks, buffer-assignment noise, counts as none)."""
    layers = CONFIGS[name][1]["num_layers"]
    one, t1 = memory(name, mode, mesh, 1, dtype)
    two, t2 = memory(name, mode, mesh, 2, dtype)
    m = {k: one[k] + (layers - 1) * max(0, two[k] - one[k]) for k in FIELDS}
    return m, t1 + t2


def planned(name, mode, mesh):
    """The program's figures, and its peak were bfloat16 dots native.

    XLA's CPU compiler has no bfloat16 matmul: it converts bfloat16
    weights to float32 copies (hoisted out of the decode loop, so a whole
    float32 model for sampling) that a TPU or GPU compiler never makes.
    For bfloat16 programs `native_peak` takes the temporaries of the same
    program with float32 weights (float32 activations: an upper bound for
    bfloat16 ones, without those copies).
    """
    m, seconds = scaled(name, mode, mesh)
    native = m["temporaries"]
    if mode != "full_f32":
        f32, more = scaled(name, mode, mesh, "float32")
        native, seconds = f32["temporaries"], seconds + more
    return m, native, seconds


def parameters(name):
    """Parameter count from the deferred weights' shapes."""
    import math

    solver = build(name, CONFIGS[name][1]["num_layers"], "full_bf16")
    return sum(math.prod(v.shape) for v in solver.causal_lm.backbone.weights)


def fits(peak_bytes, limit_gb):
    """Whether a device of `limit_gb` GB holds it with a tenth free."""
    return peak_bytes <= 0.9 * limit_gb * 1e9


def needs(rows, limit_gb, field="native_peak"):
    """For each (model, mode): the first mesh (fewest `model` devices)
    whose `field` fits `limit_gb` GB, with a tenth kept free."""
    out = {}
    for r in rows:
        key = (r["model"], r["mode"])
        out.setdefault(key, None)
        if out[key] is None and fits(r[field], limit_gb):
            out[key] = r["mesh"]
    return out


def measure_child(config_json):
    """A real train step of a small Gemma 3: XLA's prediction and the
    growth of this process's peak resident memory during the step."""
    import ctypes

    import jax
    import keras
    import keras_hub
    import numpy as np

    from keras_mathft.models import MathSolver
    from keras_mathft.models import sharding

    config = json.loads(config_json)
    distribution = sharding.mesh_distribution(config["mesh"], "gemma3")
    with distribution.scope():
        backbone = keras_hub.models.Gemma3Backbone(
            **{**_GEMMA3, **config["backbone"]}, dtype="float32"
        )
        lm = keras_hub.models.Gemma3CausalLM(
            backbone=backbone, preprocessor=None
        )
        solver = MathSolver(lm, label_token_ids=((5,), (6,)))
        solver.compile(keras.optimizers.AdamW(1e-5), objective="generation")
        solver.optimizer.build(solver.trainable_variables)
        state = (
            [v.value for v in solver.trainable_variables],
            [v.value for v in solver.non_trainable_variables],
            [v.value for v in solver.optimizer.variables],
            [v.value for v in solver.metrics_variables],
        )
        shape = (config["batch"], config["length"])
        rng = np.random.default_rng(0)
        ids = rng.integers(0, 1000, shape).astype("int32")
        batch = tuple(
            keras.distribution.distribute_tensor(
                x, distribution.get_data_layout(shape)
            )
            for x in (ids, np.ones(shape, bool), ids, np.ones(shape, "float32"))
        )
        batch = ({"token_ids": batch[0], "padding_mask": batch[1]}, *batch[2:])
        out = (None, tuple([x.sharding for x in part] for part in state))
        step = jax.jit(solver.train_step, donate_argnums=0, out_shardings=out)
        compiled = step.lower(state, batch).compile()
    analysis = compiled.memory_analysis()
    predicted = jax.device_count() * (
        analysis.temp_size_in_bytes
        + analysis.output_size_in_bytes
        - analysis.alias_size_in_bytes
    )
    # Give freed pages back, then restart the peak from the present.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status("VmRSS")
    logs, state = compiled(state, batch)
    jax.block_until_ready(state)
    grown = _status("VmHWM") - before
    loss = float(np.asarray(logs["loss"]))
    return {
        "predicted": predicted,
        "measured": grown,
        "loss": loss,
        "per_device": {
            "arguments": analysis.argument_size_in_bytes,
            "outputs": analysis.output_size_in_bytes,
            "aliased": analysis.alias_size_in_bytes,
            "temporaries": analysis.temp_size_in_bytes,
        },
    }


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"No {field} in /proc/self/status")


def measure():
    backbone = {}
    for item in FLAGS.measure_config.split(","):
        key, value = item.split("=")
        backbone[key] = int(value)
    config = {
        "backbone": backbone,
        "mesh": FLAGS.measure_mesh,
        "batch": FLAGS.measure_batch,
        "length": FLAGS.measure_length,
    }
    proc = subprocess.run(
        [sys.executable, __file__, f"--child={json.dumps(config)}"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(proc.stderr[-3000:])
    return {**config, **json.loads(lines[-1][len("RESULT ") :])}


def _gb(x):
    return f"{x / 1e9:.2f}"


def main(argv):
    del argv
    if FLAGS.child:
        print("RESULT " + json.dumps(measure_child(FLAGS.child)))
        return
    import jax
    import keras

    meshes = [m for m in FLAGS.meshes.split(";") if m]
    settings = {
        name: FLAGS[name].value
        for name in (
            "models",
            "modes",
            "meshes",
            "batch_size",
            "sequence_length",
            "lora_rank",
            "num_samples",
            "total_length",
            "max_new_tokens",
        )
    }
    print(
        f"machine={platform.node()} cpus={os.cpu_count()} "
        f"backend={keras.config.backend()} jax={jax.__version__} "
        f"keras={keras.__version__} devices={jax.device_count()} "
        f"({jax.devices()[0].platform}, virtual: XLA_FLAGS="
        f"{os.environ.get('XLA_FLAGS')})"
    )
    print("settings:", json.dumps(settings))
    results = {"settings": settings, "rows": []}
    for name in FLAGS.models:
        count = parameters(name)
        print(f"\n{name}: {count / 1e9:.2f}B parameters", flush=True)
        print(
            f"{'mode':10} {'mesh':16} {'args':>7} {'out':>7} {'alias':>7} "
            f"{'temp':>7} {'peak':>7} {'temp*':>7} {'peak*':>7}  GB; "
            "peak* fits 16/80 GB"
        )
        for mode in FLAGS.modes:
            for mesh in meshes:
                m, native, seconds = planned(name, mode, mesh)
                row = {
                    "model": name,
                    "parameters": count,
                    "mode": mode,
                    "mesh": mesh,
                    **m,
                    "peak": peak(m),
                    "native_temporaries": native,
                    "native_peak": peak({**m, "temporaries": native}),
                    "compile_seconds": seconds,
                }
                results["rows"].append(row)
                fitting = "/".join(
                    "yes" if fits(row["native_peak"], gb) else "no"
                    for gb in LIMITS_GB
                )
                print(
                    f"{mode:10} {mesh:16} {_gb(m['arguments']):>7} "
                    f"{_gb(m['outputs']):>7} {_gb(m['aliased']):>7} "
                    f"{_gb(m['temporaries']):>7} {_gb(row['peak']):>7} "
                    f"{_gb(native):>7} {_gb(row['native_peak']):>7}  {fitting}",
                    flush=True,
                )
    print("\n* bfloat16 dots native (TPU, GPU): see `planned`.")
    for limit in LIMITS_GB:
        print(f"\nFirst mesh whose peak* is within 90% of {limit} GB:")
        for (name, mode), mesh in needs(results["rows"], limit).items():
            print(f"  {name:16} {mode:10} {mesh or 'none of these'}")
    if FLAGS.check:
        name, mode, mesh = FLAGS.check.split(":", 2)
        layers = CONFIGS[name][1]["num_layers"]
        whole, seconds = memory(name, mode, mesh, layers)
        estimate, _ = scaled(name, mode, mesh)
        results["check"] = {
            "model": name,
            "mode": mode,
            "mesh": mesh,
            "whole": whole,
            "scaled": estimate,
            "compile_seconds": seconds,
        }
        print(f"\nCheck: {name} {mode} {mesh}, {layers} layers compiled whole")
        for key in (*FIELDS, "peak"):
            a = peak(whole) if key == "peak" else whole[key]
            b = peak(estimate) if key == "peak" else estimate[key]
            print(
                f"  {key:12} whole {_gb(a)} GB, scaled {_gb(b)} GB "
                f"({100 * (b - a) / max(a, 1):+.1f}%)"
            )
    if FLAGS.measure:
        m = measure()
        results["measure"] = m
        print(
            f"\nMeasured: a small Gemma 3 ({FLAGS.measure_config}) on "
            f"{m['mesh']}, {m['batch']}x{m['length']} tokens, one train "
            f"step: peak resident memory grew {m['measured'] / 1e6:.0f} "
            f"MB; XLA predicts {m['predicted'] / 1e6:.0f} MB (8 x "
            "(temporaries + outputs - aliased))"
        )
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    app.run(main)
