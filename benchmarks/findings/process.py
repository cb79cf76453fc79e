"""Issue 29: an evaluator that checks instead of guessing the answer.

Per seed, on the evaluator study's base run (SSFT, 8 samples on each
evaluator training problem, N samples per test problem), four
evaluators are trained from the SSFT weights (`process_arms`): outcome
on the paper's pairs, outcome on hard pairs, process on exact step
labels (`data.exact_step_labels`) and process on Monte-Carlo step labels
(`sampling.monte_carlo_step_labels`, on the first `mc_problems`). Each
scores the test samples and its own training samples; the report gives
their quality (within-problem AUC, the between-cluster share of score
variance, step AUC) and every re-ranker's accuracy with two-level
bootstrap intervals. Each arm's result, and the Monte-Carlo labels, are
one JSON file each, so a killed study resumes.
"""

import os
import time

import common
import numpy as np
import process_arms
import process_tables
import sizes
import stats
import synthetic

from keras_mathft import data
from keras_mathft import grading
from keras_mathft import sampling
from keras_mathft.recipes import load_problems
from keras_mathft.recipes import run_pipeline

FLAGS = common.FLAGS


def read_inputs(base, table):
    """The base run's training and test samples, graded, with exact
    step labels of every sample."""
    train = load_problems(base)[0][: table["problems"]]
    with common.opened(base, verbose=0) as run:
        labels = common.read_json(run.path("train.labels"))[: len(train)]
        train_samples = common.aligned(run.store("train.store"), train)
    test, greedy, samples, correct = synthetic.graded_test_samples(base)
    return {
        "train": train,
        "train_samples": train_samples,
        "train_labels": labels,
        "train_steps": exact_labels(train, train_samples),
        "test": test,
        "greedy": greedy,
        "samples": samples,
        "correct": correct,
        "test_steps": exact_labels(test, samples),
        "clusters": [
            grading.cluster_answers([x.answer for x in g]) for g in samples
        ],
    }


def exact_labels(problems, groups):
    """Exact step labels, one list of label tuples per problem."""
    out = []
    for problem, group in zip(problems, groups):
        reference = data.ReferenceQuantities(problem)
        out.append(
            [
                list(data.exact_step_labels(problem, x.text, reference).labels)
                for x in group
            ]
        )
    return out


def monte_carlo(base, table, inputs):
    """Monte-Carlo step labels of the first `mc_problems`' samples, their
    cost, and their agreement with the exact labels."""
    count = table["mc_problems"]
    problems = inputs["train"][:count]
    groups = inputs["train_samples"][:count]
    with common.opened(base, verbose=0) as run:
        labels, cost = sampling.monte_carlo_step_labels(
            run.solver("ssft"),
            [p for p, g in zip(problems, groups) for _ in g],
            [x.text for g in groups for x in g],
            num_rollouts=table["num_rollouts"],
            min_right=table["min_right"],
            max_new_tokens=base.sampling.max_new_tokens,
            temperature=base.sampling.temperature,
            top_p=base.sampling.top_p,
            seed=base.run.seed + 3,
        )
    nested = process_arms.nest(range(len(labels)), groups)
    exact = [v for g in inputs["train_steps"][:count] for v in g]
    return {
        "labels": [[list(labels[int(i)].labels) for i in g] for g in nested],
        "right": [[list(labels[int(i)].right) for i in g] for g in nested],
        "cost": vars(cost),
        "agreement": sampling.step_label_agreement(
            [tuple(v) for v in exact], [x.labels for x in labels]
        ),
    }


def run_arm(arm, base, table, inputs, mc):
    """Trains one arm's evaluator on one seed and measures it."""
    seed = base.run.seed
    cap = process_arms.steps_for(
        base,
        len(process_arms.outcome_pairs("outcome", inputs, table, seed)[0]),
        table,
    )
    final_loss = None
    with common.opened(base, verbose=0) as run:
        if arm.startswith("outcome"):
            pairs, info = process_arms.outcome_pairs(arm, inputs, table, seed)
            steps = process_arms.steps_for(base, len(pairs), table, cap)
            evaluator, seconds = process_arms.train_outcome(
                base, run, pairs, steps
            )
        else:
            labels = inputs["train_steps"]
            count = None
            if arm == "process_mc":
                labels, count = mc["labels"], table["mc_problems"]
            pairs, info = process_arms.process_pairs(
                labels, inputs, table, seed, count
            )
            steps = process_arms.steps_for(base, len(pairs), table, cap)
            evaluator, seconds, final_loss = process_arms.train_process(
                base, run, pairs, steps
            )
    steps = steps if pairs else 0
    k = table["train_auc_problems"]
    test_scores, test_steps = process_arms.score(
        evaluator, base, inputs["test"], inputs["samples"]
    )
    train_scores, _ = process_arms.score(
        evaluator, base, inputs["train"][:k], inputs["train_samples"][:k]
    )
    result = {
        "arm": arm,
        "seed": seed,
        "steps": steps,
        "pairs": len(pairs),
        "data": info,
        "train_seconds": seconds,
        "final_loss": final_loss,
        "variants": {},
    }
    for variant, scores in test_scores.items():
        result["variants"][variant] = measure(
            base, inputs, scores, train_scores[variant], k
        )
    if test_steps is not None:
        flat_labels = [v for g in inputs["test_steps"] for v in g]
        result["step_auc_test"] = process_arms.step_auc(test_steps, flat_labels)
    return result


def measure(base, inputs, scores, train_scores, k):
    """One score variant's quality and per-problem accuracies."""
    correct = inputs["correct"]
    return {
        "within_problem_auc_test": sampling.within_problem_auc(correct, scores),
        "within_problem_auc_train": sampling.within_problem_auc(
            inputs["train_labels"][:k], train_scores
        ),
        "auc_test": sampling.evaluator_auc(correct, scores),
        "between_cluster_share": synthetic.between_cluster_share(
            inputs["clusters"], correct, scores
        ),
        "per_problem": stats.per_problem(
            base, inputs["test"], inputs["samples"], inputs["greedy"], scores
        ),
    }


def study(seeds, overrides):
    """Runs (or reads back) every arm of every seed, and reports."""
    table = common.study_size(sizes.PROCESS_STUDY, "process")
    evaluator_table = common.study_size(sizes.EVALUATOR_STUDY, "process")
    start = time.perf_counter()
    results = {arm: [] for arm in process_arms.ARMS}
    labels, synthetic_results = [], []
    folder = common.size_root("process")
    for seed in seeds:
        base = sizes.base_config(evaluator_table, seed, overrides)
        run_pipeline(base, verbose=1, stages=list(sizes.BASE_STAGES))
        inputs = read_inputs(base, table)
        mc = common.finished(
            os.path.join(folder, "monte_carlo", f"seed{seed}.json"),
            f"Monte-Carlo labels seed {seed}",
            lambda: monte_carlo(base, table, inputs),
        )
        labels.append({"seed": seed, **label_summary(inputs, mc)})
        for arm in process_arms.ARMS:
            results[arm].append(
                common.finished(
                    os.path.join(folder, arm, f"seed{seed}.json"),
                    f"arm {arm} seed {seed}",
                    lambda arm=arm: run_arm(arm, base, table, inputs, mc),
                )
            )
        synthetic_results.append(
            common.finished(
                common.size_root("synthetic", f"seed{seed}.json"),
                f"synthetic evaluators seed {seed}",
                lambda: synthetic.evaluators(base),
            )
        )
    wall = time.perf_counter() - start
    text = process_tables.markdown(
        results, labels, synthetic_results, table, base, seeds, wall
    )
    common.write_section(FLAGS.markdown, "process", text)
    print(text)


def label_summary(inputs, mc):
    """What the exact labels say of the training samples, and the
    Monte-Carlo labels' cost and agreement."""
    flat = [v for g in inputs["train_steps"] for v in g]
    first = [next((i for i, x in enumerate(v) if x == 0), None) for v in flat]
    outcome = [v for g in inputs["train_labels"] for v in g]
    right_with_wrong_step = [
        o and f is not None for o, f in zip(outcome, first)
    ]
    return {
        "samples": len(flat),
        "steps": float(np.mean([len(v) for v in flat])),
        "all_right": float(np.mean([f is None for f in first])),
        "first_step_wrong": float(np.mean([f == 0 for f in first])),
        "right_answer_wrong_step": float(
            np.sum(right_with_wrong_step) / max(1, np.sum(outcome))
        ),
        "mc_cost": mc["cost"],
        "mc_agreement": mc["agreement"],
    }
