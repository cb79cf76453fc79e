"""Evaluator scoring throughput: a problem's prefix run once vs every prompt.

Scores `--num_samples` candidates for each of `--num_problems` problems
with `MathSolver.score_solutions`, once with the full-prompt path
(`share_prefix=False`, the scorer before prefix sharing: every candidate's
whole evaluation prompt through the model) and once with the default
prefix-shared path, on the same model, texts and batch size, in one
process, each after a warm-up call on the same data (compilation left
out). Prints candidates/s, the speed-up, the largest score difference,
the tokens each path runs through the model, and the achieved fraction of
the machine's float32 matmul peak measured in the same run.

Problems are long on purpose (few-shot prompts of `--prompt_tokens`
tokens or more): with `--model=ssft` each problem is preceded by solved
examples of the run's training problems and the candidates are reference
solutions of other problems (the embedded task's real lengths); random
models get word-salad problems and candidates of geometric length (mean
`--candidate_words` words).

    KERAS_BACKEND=jax python benchmarks/scoring.py --model=ssft \\
        --run_dir=/tmp/sampler_quick --num_problems=4 --num_samples=64
    KERAS_BACKEND=jax python benchmarks/scoring.py --model=gemma3_270m \\
        --num_problems=1 --num_samples=64
"""

import json
import os
import platform
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_models  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum(
    "model", "ssft", ["ssft", "gemma3_270m", "gpt2", "preset"], "Model."
)
flags.DEFINE_string("run_dir", None, "Recipe run directory (--model=ssft).")
flags.DEFINE_string("preset", None, "Preset directory (--model=preset).")
flags.DEFINE_integer("num_problems", 4, "Problems.")
flags.DEFINE_integer("num_samples", 64, "Candidates per problem.")
flags.DEFINE_integer("prompt_tokens", 200, "Least tokens per problem prompt.")
flags.DEFINE_integer("candidate_words", 40, "Mean words per random candidate.")
flags.DEFINE_integer("batch_size", 64, "Candidates per compiled call.")
flags.DEFINE_integer("sequence_length", 1024, "Longest evaluation prompt.")
flags.DEFINE_integer("repeats", 1, "Timed repeats (best is reported).")
flags.DEFINE_string("json_out", None, "Also write the results here.")


def ssft_texts(solver, test):
    """Few-shot problems of >= --prompt_tokens tokens, real candidates."""
    import numpy as np

    from keras_mathft.models.evaluator_data import token_id_lists

    rng = np.random.default_rng(0)
    shots = [f"{p.problem} {p.solution}" for p in test[FLAGS.num_problems :]]
    problems, solutions = [], []
    for p in test[: FLAGS.num_problems]:
        context = []
        while True:
            text = " ".join(context + [p.problem])
            if len(token_id_lists(solver.tokenizer, [text])[0]) >= (
                FLAGS.prompt_tokens
            ):
                break
            context.append(shots[int(rng.integers(len(shots)))])
        picks = rng.integers(len(test), size=FLAGS.num_samples)
        problems += [text] * FLAGS.num_samples
        solutions += [test[int(i)].solution for i in picks]
    return problems, solutions


def random_texts(tokenizer):
    import numpy as np

    from keras_mathft.models.evaluator_data import token_id_lists

    rng = np.random.default_rng(0)
    words = ["so", "x", "is", "the", "sum", "2", "and", "boxed", "="]
    problems, solutions = [], []
    for i in range(FLAGS.num_problems):
        n = FLAGS.prompt_tokens // 4
        while True:
            text = " ".join(rng.choice(words, size=n))
            if len(token_id_lists(tokenizer, [text])[0]) >= FLAGS.prompt_tokens:
                break
            n += 8
        lengths = rng.geometric(1 / FLAGS.candidate_words, FLAGS.num_samples)
        problems += [text] * FLAGS.num_samples
        solutions += [" ".join(rng.choice(words, size=int(k))) for k in lengths]
    return problems, solutions


def tokens_run(solver, problems, solutions, share_prefix):
    """Token positions each path runs through the model (padding included)."""
    from keras_mathft.data import geometric_bucket
    from keras_mathft.models.evaluator_data import evaluation_texts
    from keras_mathft.models.evaluator_data import token_id_lists

    texts = evaluation_texts(solver.prompt_template, problems, solutions)
    lengths = [len(t) + 1 for t in token_id_lists(solver.tokenizer, texts)]
    if not share_prefix:
        return sum(
            geometric_bucket(n, minimum=64, maximum=FLAGS.sequence_length)
            for n in lengths
        )
    by_problem = {}
    for p, n in zip(problems, lengths):
        by_problem.setdefault(p, []).append(n)
    heads = evaluation_texts(
        solver.prompt_template, list(by_problem), [""] * len(by_problem)
    )
    head_lengths = [len(t) for t in token_id_lists(solver.tokenizer, heads)]
    total = 0
    for (problem, rows), head in zip(by_problem.items(), head_lengths):
        suffix = [n - head for n in rows]
        batches = -(-len(rows) // FLAGS.batch_size)
        total += batches * geometric_bucket(head, minimum=16)
        total += len(rows) * geometric_bucket(max(suffix), minimum=16)
    return total


def main(argv):
    del argv
    import keras
    import numpy as np
    from machine_limits import decode_cost
    from machine_limits import measure_limits

    from keras_mathft.models import MathSolver

    print(
        f"machine: {platform.node()} {platform.processor()} "
        f"cpus={os.cpu_count()}"
    )
    print(f"backend: {keras.config.backend()}")
    settings = {
        k: getattr(FLAGS, k)
        for k in (
            "model",
            "run_dir",
            "num_problems",
            "num_samples",
            "prompt_tokens",
            "candidate_words",
            "batch_size",
            "sequence_length",
        )
    }
    print(f"settings: {json.dumps(settings)}")
    if FLAGS.model == "ssft":
        solver, test = bench_models.load_ssft(FLAGS.run_dir)
        problems, solutions = ssft_texts(solver, test)
    else:
        lm, template, _ = bench_models.build(FLAGS.model, preset=FLAGS.preset)
        solver = MathSolver(lm, template)
        problems, solutions = random_texts(solver.tokenizer)
    kwargs = dict(
        batch_size=FLAGS.batch_size, sequence_length=FLAGS.sequence_length
    )
    results = {}
    for name, share in (
        ("full prompts (before)", False),
        ("prefix-shared", True),
    ):
        run = lambda: solver.score_solutions(  # noqa: E731
            problems, solutions, share_prefix=share, **kwargs
        )
        run()  # warm-up: compile
        best = None
        for _ in range(FLAGS.repeats):
            start = time.perf_counter()
            scores = run()
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        results[name] = {
            "seconds": best,
            "scores": scores,
            "tokens_run": tokens_run(solver, problems, solutions, share),
        }
    limits = measure_limits()
    # Scoring is a forward pass: the decode cost per token without the
    # output projection, which only the last positions need.
    cost = decode_cost(solver.backbone, 0, 0)
    per_token = cost["flops_per_token"] - 2 * (
        solver.backbone.vocabulary_size * solver.backbone.hidden_dim
    )
    peak = limits["matmul_flops_per_s"]
    print(f"machine limits: float32 matmul {peak / 1e9:.1f} GFLOP/s")
    print(
        f"{len(solutions)} candidates, {FLAGS.num_samples} per problem; "
        f"model {per_token / 1e6:.1f} MFLOP per token (layers only)"
    )
    print(
        "| path | wall s | candidates/s | tokens run | "
        "% of matmul peak (layers) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        flops = r["tokens_run"] * per_token / r["seconds"]
        print(
            f"| {name} | {r['seconds']:.2f} | "
            f"{len(solutions) / r['seconds']:.1f} | {r['tokens_run']} | "
            f"{flops / peak:.1%} |"
        )
    before, after = results.values()
    print(f"speed-up: {before['seconds'] / after['seconds']:.2f}x")
    diff = np.abs(before["scores"] - after["scores"]).max()
    print(f"largest score difference: {diff:.2e}")
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(
                {
                    "settings": settings,
                    "limits": limits,
                    "results": {
                        k: {**v, "scores": None} for k, v in results.items()
                    },
                    "max_score_difference": float(diff),
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    app.run(main)
