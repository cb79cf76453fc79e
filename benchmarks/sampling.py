"""N-sample throughput against the machine's limits, in one run.

Compares, on the same model, prompts, rows, sampling settings and stop
tokens: our `SolutionSampler` with the continuous schedule (the default),
the same with the static schedule (chunks decoded until their longest row
stops), and keras-hub's `CausalLM.generate` on the prompts repeated N
times (`TopPSampler`, one `max_length` window, batches of the same rows).
Each method runs in its own process (peak memory is its own) after a
warm-up call on the same shapes (compilation left out).

Models (`--model`):
- `ssft`: the recipe's SSFT model of `--run_dir` (e.g. written by
  `examples/train.py`) on the run's test problems. It really stops, at
  varied lengths: the realistic setting to quote with `--stop=model`.
- `gemma3_270m`: a Gemma 3 backbone of the 270M shape (18 layers, hidden
  640, 4 query / 1 KV heads, head dim 256, vocabulary 262,144) with random
  weights: the real per-token cost. A random model never emits its end
  token, so `--stop=geometric` stops rows with a fixed set of stop tokens
  covering `1 / --mean_length` of the vocabulary (random rows then end
  after a geometric number of tokens, mean about `--mean_length`, like the
  long-tailed lengths of MATH solutions); `--stop=off` runs every row to
  `--max_new_tokens`.
- `gpt2`: the small random GPT-2 of the earlier figures.
- `preset`: any keras-hub preset directory (`--preset`).

`continuous_int8` is the continuous schedule with the output projection
quantized to int8 (`models.quantize_output_layer`; its NLL check is
`benchmarks/quantized_nll.py`).

`--methods=...,llama_cpp` adds llama.cpp on the same GGUF file
(`--model=preset --preset=FILE.gguf`): the same prompt token ids (its
tokenizer equals ours on MATH500, tests/models/test_llamacpp_reference.py),
N, lengths, temperature, top-p and stop ids, with batched decode of the N
rows sharing the prompt's KV cells (`benchmarks/llamacpp_sampling.py`),
run by `--llama_cpp_python` (an interpreter with llama.cpp's binding; this
venv has none, and the method is skipped with a reason when it cannot
import `llama_cpp`). `--llama_cpp_sampling_threads` spreads its per-row
sampling over threads (its best configuration on 2 cores is 2).

Next to each figure it prints the machine's limits measured in the same
run (`machine_limits.py`): dense float32 matmul FLOP/s and memory read
bandwidth, the model's decode FLOPs per token, the achieved fraction of
the matmul peak, and the memory-bandwidth bound on tokens/s for the cache
and weight reads. It also times one decode step's parts (the model call
and the token choice) on the model's own logits, for the top-p share.

    KERAS_BACKEND=jax python benchmarks/sampling.py --model=ssft \\
        --run_dir=/tmp/sampler_default --num_samples=64 --stop=model
    KERAS_BACKEND=jax python benchmarks/sampling.py --model=gemma3_270m \\
        --num_problems=2 --num_samples=16 --stop=geometric
"""

import json
import os
import platform
import resource
import subprocess
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_models  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum(
    "model", "gpt2", ["gpt2", "gemma3_270m", "ssft", "preset"], "Model."
)
flags.DEFINE_string("run_dir", None, "Recipe run directory (--model=ssft).")
flags.DEFINE_string("preset", None, "Preset directory (--model=preset).")
flags.DEFINE_integer("num_problems", 8, "Problems.")
flags.DEFINE_integer("num_samples", 64, "Samples per problem (N).")
flags.DEFINE_integer("max_new_tokens", 128, "Most new tokens per sample.")
flags.DEFINE_integer("batch_rows", 64, "Rows decoded at once (all methods).")
flags.DEFINE_enum(
    "stop", "off", ["off", "model", "geometric"], "Stop tokens; see above."
)
flags.DEFINE_integer("mean_length", 64, "Mean length for --stop=geometric.")
flags.DEFINE_float("temperature", 0.9, "Temperature.")
flags.DEFINE_float("top_p", 0.95, "Top-p.")
flags.DEFINE_integer("prompt_words", 60, "Mean words per random problem.")
flags.DEFINE_enum(
    "problems",
    "random",
    ["random", "math500"],
    "Problems of --model=preset|gemma3_270m: word salad, or the shortest "
    "level-1/2 MATH500 problems of --data_dir.",
)
flags.DEFINE_string("data_dir", "../shared/data", "MATH data (math500).")
flags.DEFINE_integer("vocabulary_size", 8192, "GPT-2 vocabulary size.")
flags.DEFINE_integer("num_layers", 4, "GPT-2 layers.")
flags.DEFINE_integer("hidden_dim", 256, "GPT-2 hidden size.")
flags.DEFINE_integer("repeats", 1, "Timed repeats (best is reported).")
flags.DEFINE_string(
    "methods", "continuous,static,keras_hub", "Comma-separated methods."
)
flags.DEFINE_string(
    "llama_cpp_python",
    None,
    "Python interpreter with llama.cpp's binding (method llama_cpp).",
)
flags.DEFINE_integer(
    "llama_cpp_sampling_threads", 2, "llama.cpp: threads sampling rows."
)
flags.DEFINE_string("method", None, "Internal: run one method and exit.")
flags.DEFINE_string("json_out", None, "Also write the results here.")

SETTINGS = (
    "model",
    "run_dir",
    "preset",
    "num_problems",
    "num_samples",
    "max_new_tokens",
    "batch_rows",
    "stop",
    "mean_length",
    "temperature",
    "top_p",
    "prompt_words",
    "problems",
    "data_dir",
    "vocabulary_size",
    "num_layers",
    "hidden_dim",
)


def build():
    """`(causal_lm, prompt_template, problems)` for `--model`."""
    return bench_models.build(
        FLAGS.model,
        run_dir=FLAGS.run_dir,
        preset=FLAGS.preset,
        num_problems=FLAGS.num_problems,
        prompt_words=FLAGS.prompt_words,
        problems=FLAGS.problems,
        data_dir=FLAGS.data_dir,
        vocabulary_size=FLAGS.vocabulary_size,
        num_layers=FLAGS.num_layers,
        hidden_dim=FLAGS.hidden_dim,
    )


def stop_token_ids(lm):
    import numpy as np

    from keras_mathft.models import families

    if FLAGS.stop == "off":
        return None
    if FLAGS.stop == "model":
        return families.stop_token_ids(lm)
    vocab = lm.backbone.vocabulary_size
    count = max(1, vocab // FLAGS.mean_length)
    rng = np.random.default_rng(1)
    return sorted(int(t) for t in rng.choice(vocab, count, replace=False))


def peak_memory_mb():
    """Accelerator peak when there is one, else the process's peak RSS."""
    import keras

    if keras.config.backend() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu":
            stats = device.memory_stats() or {}
            return stats.get("peak_bytes_in_use", 0) / 2**20, "device"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss"


def device_name():
    import keras

    if keras.config.backend() == "jax":
        import jax

        return str(jax.devices()[0])
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return str(gpus[0]) if gpus else "CPU"


def generation_prompts(template, problems):
    return [
        template.generation_prompt(getattr(p, "problem", p)) for p in problems
    ]


def prompt_lengths(lm, prompts):
    import numpy as np
    from keras import ops

    mask = lm.preprocessor.generate_preprocess(prompts, sequence_length=2048)[
        "padding_mask"
    ]
    return np.asarray(ops.convert_to_numpy(mask)).sum(axis=1)


def run_ours(lm, template, problems, schedule):
    from unittest import mock

    from keras_mathft.sampling import SamplingConfig
    from keras_mathft.sampling import SolutionSampler

    config = SamplingConfig(
        num_samples=FLAGS.num_samples,
        max_new_tokens=FLAGS.max_new_tokens,
        temperature=FLAGS.temperature,
        top_p=FLAGS.top_p,
        stop_token_ids=stop_token_ids(lm),
        schedule=schedule,
        max_rows_per_chunk=FLAGS.batch_rows,
        max_prompt_length=2048,
    )
    sampler = SolutionSampler(lm, config, prompt_template=template)
    sampler.sample(problems, verbose=False)  # warm-up (seed 0): compile
    best = None
    # Traces during the timed runs (a retrace would show here).
    with mock.patch.object(
        lm, "call_with_cache", wraps=lm.call_with_cache
    ) as spy:
        for r in range(FLAGS.repeats):
            start = time.perf_counter()
            out, stats = sampler.sample(
                problems, config.replace(seed=r + 1), verbose=False
            )
            seconds = time.perf_counter() - start
            if best is None or seconds < best[0]:
                best = (seconds, stats)
    seconds, stats = best
    lengths = [s.num_tokens for group in out for s in group]
    return {
        "seconds": seconds,
        "tokens": stats.tokens,
        "slot_utilization": stats.slot_utilization,
        "decode_steps": stats.slot_steps / max(1, FLAGS.batch_rows),
        "prefills": stats.prefills,
        "mean_length": sum(lengths) / len(lengths),
        "finished": sum(s.finished for g in out for s in g) / len(lengths),
        "traces_while_timed": spy.call_count,
    }


def run_keras_hub(lm, template, problems):
    import keras_hub
    import numpy as np
    from keras import ops

    prompts = [
        template.generation_prompt(getattr(p, "problem", p)) for p in problems
    ]
    max_length = int(max(prompt_lengths(lm, prompts))) + FLAGS.max_new_tokens
    rows = [p for p in prompts for _ in range(FLAGS.num_samples)]
    batches = [
        rows[i : i + FLAGS.batch_rows]
        for i in range(0, len(rows), FLAGS.batch_rows)
    ]
    stops = stop_token_ids(lm)
    # keras-hub's Gemma 3 `generate_step` returns `images: None` for text
    # input, which `generate` then fails to concatenate over batches when
    # no preprocessor is attached; drop the empty entries.
    step = lm.generate_step
    lm.generate_step = lambda *a, **k: {
        key: v for key, v in step(*a, **k).items() if v is not None
    }
    lm.compile(
        sampler=keras_hub.samplers.TopPSampler(
            p=FLAGS.top_p, temperature=FLAGS.temperature
        )
    )
    preprocessor = lm.preprocessor

    def generate(batch):
        # Pad the last batch to the compiled shape, like a real loop.
        batch = batch + batch[:1] * (FLAGS.batch_rows - len(batch))
        x = preprocessor.generate_preprocess(batch, sequence_length=max_length)
        lm.preprocessor = None  # token ids in and out, to count tokens
        try:
            out = lm.generate(x, max_length=max_length, stop_token_ids=stops)
        finally:
            lm.preprocessor = preprocessor
        given = np.asarray(ops.convert_to_numpy(x["padding_mask"]))
        mask = np.asarray(ops.convert_to_numpy(out["padding_mask"]))
        new = (mask.sum(axis=1) - given.sum(axis=1))[: len(batch)]
        ends = given.sum(axis=1) + new
        steps = int(ends.max() - given.sum(axis=1).min())
        return int(new.sum()), steps

    generate(batches[0])  # warm-up: compile
    best = None
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        counts = [generate(b) for b in batches]
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    tokens = sum(c for c, _ in counts)
    slot_steps = sum(s for _, s in counts) * FLAGS.batch_rows
    return {
        "seconds": best,
        "tokens": tokens,
        "slot_utilization": tokens / slot_steps,
        "decode_steps": slot_steps / FLAGS.batch_rows,
        "mean_length": tokens / len(rows),
    }


def run_llama_cpp(lm, template, problems):
    """llama.cpp on the same GGUF file and prompt ids, in its own venv."""
    import tempfile

    import numpy as np
    from keras import ops

    prompts = generation_prompts(template, problems)
    x = lm.preprocessor.generate_preprocess(prompts, sequence_length=2048)
    ids = np.asarray(ops.convert_to_numpy(x["token_ids"]))
    mask = np.asarray(ops.convert_to_numpy(x["padding_mask"]))
    job = {
        "gguf": FLAGS.preset,
        "prompts": [row[m].tolist() for row, m in zip(ids, mask)],
        "num_samples": FLAGS.num_samples,
        "max_new_tokens": FLAGS.max_new_tokens,
        "temperature": FLAGS.temperature,
        "top_p": FLAGS.top_p,
        "stop_token_ids": list(stop_token_ids(lm) or []),
        "threads": os.cpu_count(),
        "sampling_threads": FLAGS.llama_cpp_sampling_threads,
    }
    script = os.path.join(os.path.dirname(__file__), "llamacpp_sampling.py")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(job, f)
        f.flush()
        proc = subprocess.run(
            [FLAGS.llama_cpp_python, script, f.name],
            capture_output=True,
            text=True,
        )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"llama.cpp failed: {proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    rows = len(prompts) * FLAGS.num_samples
    result["slot_utilization"] = None
    result["decode_steps"] = None
    result["mean_length"] = result["tokens"] / rows
    return result


def llama_cpp_unavailable():
    """Why the llama_cpp method cannot run, or None."""
    if not (FLAGS.preset or "").endswith(".gguf"):
        return "it needs --model=preset with a .gguf --preset"
    if not FLAGS.llama_cpp_python:
        return "no --llama_cpp_python interpreter given"
    try:
        probe = subprocess.run(
            [FLAGS.llama_cpp_python, "-c", "import llama_cpp"],
            capture_output=True,
        )
    except OSError:  # no such file, or not executable
        probe = None
    if probe is None or probe.returncode:
        return f"{FLAGS.llama_cpp_python} cannot import llama_cpp"
    return None


def decode_step_seconds(lm, rows, total_length, mode):
    """Seconds per step of our compiled decode loop, every slot busy.

    Times blocks of 2 and 10 steps on a full pool (rows in the middle of
    the cache, never stopping) and divides the difference by 8, so the
    call and refill overheads cancel.
    """
    import numpy as np

    from keras_mathft.sampling.decoding import DecodePrograms
    from keras_mathft.sampling.decoding import as_int32

    programs = DecodePrograms(lm, stop_token_ids=(), pad_token_id=0)
    width = 64
    block = programs.decode_block(width, (mode, None))
    state = [
        np.ones(rows, "int32"),
        np.full(rows, total_length // 2, "int32"),
        np.arange(rows, dtype=np.uint32),
        np.full(rows, total_length, "int32"),
        np.full(rows, total_length // 2, "int32"),
        np.zeros(rows, bool),
    ]
    cache = programs.pool_layout.zeros(rows, total_length)
    generated = np.zeros((rows, width), "int32")
    scalars = (np.float32(FLAGS.temperature), np.float32(FLAGS.top_p))

    def run(steps):
        nonlocal cache, generated
        start = time.perf_counter()
        cache, generated, *out = block(
            cache,
            generated,
            tuple(state),
            as_int32(steps),
            as_int32(rows + 1),
            *scalars,
        )
        np.asarray(out[-1])
        return time.perf_counter() - start

    run(2)  # compile
    short = min(run(2) for _ in range(2))
    long = min(run(10) for _ in range(2))
    return (long - short) / 8


def decode_step_parts(lm, rows, total_length):
    """Per-step seconds of our decode loop: greedy, sampling and top-p.

    The top-p share of a step is `(top_p - greedy) / top_p`: the filter and
    the draw, less the argmax that greedy decoding pays as well.
    """
    return {
        mode: decode_step_seconds(lm, rows, total_length, mode)
        for mode in ("greedy", "sample", "top_p")
    }


def run_one(method):
    import keras
    from machine_limits import decode_cost
    from machine_limits import measure_limits

    from keras_mathft.models.cache_layout import CacheLayout

    lm, template, problems = build()
    if method == "keras_hub":
        result = run_keras_hub(lm, template, problems)
    elif method == "llama_cpp":
        result = run_llama_cpp(lm, template, problems)
    elif method == "continuous_int8":
        from keras_mathft.models import quantize_output_layer

        lm = quantize_output_layer(lm)
        result = run_ours(lm, template, problems, "continuous")
    else:
        result = run_ours(lm, template, problems, method)
    memory, kind = peak_memory_mb()
    prompts = [
        template.generation_prompt(getattr(p, "problem", p)) for p in problems
    ]
    lengths = prompt_lengths(lm, prompts)
    attended = int(lengths.max()) + FLAGS.max_new_tokens
    context = float(lengths.mean()) + result["mean_length"] / 2
    layout = CacheLayout(lm)
    result.update(
        method=method,
        backend=keras.config.backend(),
        device=device_name(),
        tokens_per_s=result["tokens"] / result["seconds"],
        peak_memory_mb=memory,
        peak_memory_kind=kind,
        mean_prompt_tokens=float(lengths.mean()),
        attended_positions=attended,
        cost=decode_cost(lm.backbone, context, layout.bytes_per_row(1)),
    )
    if method == "continuous":
        result["limits"] = measure_limits()
        result["step_parts"] = decode_step_parts(lm, FLAGS.batch_rows, attended)
    return result


def print_table(results):
    from machine_limits import bandwidth_bound_tokens_per_s

    limits = next(r["limits"] for r in results if "limits" in r)
    peak, bandwidth = limits["matmul_flops_per_s"], limits["read_bytes_per_s"]
    print(
        f"machine limits: float32 matmul {peak / 1e9:.1f} GFLOP/s "
        f"({limits['matmul_size']}^3), memory read {bandwidth / 1e9:.1f} GB/s"
    )
    cost = results[0]["cost"]
    print(
        f"model: {cost['flops_per_token'] / 1e6:.1f} MFLOP per token, "
        f"{cost['weight_bytes'] / 2**20:.0f} MiB weights, "
        f"{cost['cache_bytes_per_position'] / 1024:.1f} KiB KV per position"
    )
    bound = bandwidth_bound_tokens_per_s(
        cost, FLAGS.batch_rows, results[0]["attended_positions"], bandwidth
    )
    compute_bound = peak / cost["flops_per_token"]
    print(
        f"bounds at {FLAGS.batch_rows} rows: memory {bound:.0f} tokens/s, "
        f"matmul peak {compute_bound:.0f} tokens/s"
    )
    print(
        "| method | wall s | tokens | mean length | tokens/s | slot use "
        "| % of matmul peak | % of memory bound | peak MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        flops = r["tokens_per_s"] * r["cost"]["flops_per_token"]
        print(
            f"| {r['method']} | {r['seconds']:.2f} | {r['tokens']} | "
            f"{r['mean_length']:.1f} | {r['tokens_per_s']:.1f} | "
            f"{_percent(r['slot_utilization'])} | {flops / peak:.1%} | "
            f"{r['tokens_per_s'] / bound:.1%} | "
            f"{r['peak_memory_mb']:.0f} ({r['peak_memory_kind']}) |"
        )
    by = {r["method"]: r for r in results}
    for other in ("keras_hub", "llama_cpp"):
        for name in ("continuous", "continuous_int8", "static"):
            if other in by and name in by:
                ratio = by[name]["tokens_per_s"] / by[other]["tokens_per_s"]
                print(f"speed-up {name} / {other}: {ratio:.2f}x")
    parts = by["continuous"]["step_parts"]
    share = (parts["top_p"] - parts["greedy"]) / parts["top_p"]
    print(
        f"decode step at {FLAGS.batch_rows} rows (our loop, all slots "
        f"busy): greedy {parts['greedy'] * 1e3:.1f} ms, sampling "
        f"{parts['sample'] * 1e3:.1f} ms, top-p {parts['top_p'] * 1e3:.1f} "
        f"ms; top-p filter and draw {share:.1%} of the top-p step"
    )
    for r in results:
        if r.get("traces_while_timed"):
            print(f"WARNING: {r['method']} retraced while timed")


def _percent(value):
    return "-" if value is None else f"{value:.1%}"


def main(argv):
    del argv
    if FLAGS.method is not None:
        print("RESULT " + json.dumps(run_one(FLAGS.method)), flush=True)
        return
    settings = {k: getattr(FLAGS, k) for k in SETTINGS}
    print(
        f"machine: {platform.node()} {platform.processor()} "
        f"cpus={os.cpu_count()}"
    )
    print(f"backend: {os.environ.get('KERAS_BACKEND', 'tensorflow')}")
    print(f"settings: {json.dumps(settings)}")
    results = []
    methods = FLAGS.methods.split(",")
    # The limits are measured in the continuous run.
    methods = ["continuous"] + [m for m in methods if m != "continuous"]
    for method in methods:
        if method == "llama_cpp" and llama_cpp_unavailable():
            print(f"llama_cpp: skipped, {llama_cpp_unavailable()}")
            continue
        args = [sys.executable, __file__, f"--method={method}"]
        args += [f"--{k}={v}" for k, v in settings.items() if v is not None]
        args += [f"--repeats={FLAGS.repeats}"]
        args += [
            f"--llama_cpp_sampling_threads={FLAGS.llama_cpp_sampling_threads}"
        ]
        if FLAGS.llama_cpp_python:
            args += [f"--llama_cpp_python={FLAGS.llama_cpp_python}"]
        proc = subprocess.run(args, capture_output=True, text=True)
        lines = [
            line
            for line in proc.stdout.splitlines()
            if line.startswith("RESULT ")
        ]
        if proc.returncode or not lines:
            print(proc.stderr[-4000:])
            raise SystemExit(f"{method} failed with code {proc.returncode}")
        results.append(json.loads(lines[-1][len("RESULT ") :]))
        print(f"{method}: done in {results[-1]['seconds']:.1f} s", flush=True)
        if FLAGS.json_out:  # after each method: a later failure keeps it
            with open(FLAGS.json_out, "w") as f:
                json.dump(
                    {"settings": settings, "results": results}, f, indent=1
                )
    print(f"device: {results[0]['device']}")
    print_table(results)


if __name__ == "__main__":
    app.run(main)
