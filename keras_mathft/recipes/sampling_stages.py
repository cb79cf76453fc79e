"""What the sampling and data stages do: samples, labels, evaluator data,
test scores.
"""

import dataclasses

import numpy as np

from keras_mathft import data as data_lib
from keras_mathft import models
from keras_mathft import sampling
from keras_mathft.atomic_files import read_json
from keras_mathft.atomic_files import write_json_atomic
from keras_mathft.data.step_labels import RIGHT
from keras_mathft.data.step_labels import WRONG
from keras_mathft.recipes.stage_common import aligned
from keras_mathft.recipes.stage_common import evaluator_stage
from keras_mathft.recipes.stage_common import generator_stage
from keras_mathft.recipes.stage_common import is_correct
from keras_mathft.recipes.stage_common import write_jsonl

STEP_ROLLOUTS = 4


def train_samples(context):
    config = context.config
    problems = context.eval_train_problems()
    store = context.sample(
        context.path("train.store"),
        context.solver("ssft"),
        problems,
        context.sampling_config(
            num_samples=config.sampling.num_train_samples,
            temperature=config.sampling.temperature,
            seed=config.run.seed + 1,
        ),
    )
    samples = aligned(store, problems)
    labels = [
        [is_correct(s.answer, p.answer) for s in group]
        for p, group in zip(problems, samples)
    ]
    if context.writes:
        write_json_atomic(context.path("train.labels"), labels)
    flat = [v for group in labels for v in group]
    return {
        "problems": len(problems),
        "samples": len(flat),
        "correct_fraction": float(np.mean(flat)) if flat else 0.0,
        "problems_with_a_correct_sample": int(sum(map(any, labels))),
    }


def evaluator_data(context):
    problems = context.eval_train_problems()
    samples = aligned(context.store("train.store"), problems)
    labels = read_json(context.path("train.labels"))
    built = models.build_evaluator_examples(
        problems,
        [[s.text for s in group] for group in samples],
        labels,
        max_pairs_per_problem=context.config.evaluator.max_pairs_per_problem,
        seed=context.config.run.seed,
    )
    write_jsonl(
        context.path("evaluator.examples"), [vars(e) for e in built.examples]
    )
    write_jsonl(context.path("evaluator.pairs"), [vars(p) for p in built.pairs])
    stats = {k: int(v) for k, v in vars(built.stats).items() if k != "summary"}
    context.log("[evaluator_data] %s", built.stats.summary())
    return stats


def step_labels(context):
    """A label per step of every training sample, for the process evaluator.

    Exact on the embedded task (each line checked against the problem);
    on other data, Monte-Carlo: `STEP_ROLLOUTS` rollouts of the SSFT model
    from each step's prefix, a step right when one reaches the answer.
    """
    config = context.config
    problems = context.eval_train_problems()
    samples = aligned(context.store("train.store"), problems)
    flat = [(p, s.text) for p, group in zip(problems, samples) for s in group]
    if config.data.data == "embedded":
        labels, info = exact_labels(flat), {"source": "exact"}
    else:
        labels, cost = sampling.monte_carlo_step_labels(
            context.solver("ssft"),
            [p for p, _ in flat],
            [text for _, text in flat],
            num_rollouts=STEP_ROLLOUTS,
            max_new_tokens=config.sampling.max_new_tokens,
            temperature=config.sampling.temperature,
            top_p=config.sampling.top_p,
            seed=config.run.seed + 3,
            verbose=context.verbose >= 2,
        )
        labels = [x.labels for x in labels]
        info = {"source": "monte_carlo", **dataclasses.asdict(cost)}
    rows = [
        {"problem": p.problem, "solution": text, "labels": list(steps)}
        for (p, text), steps in zip(flat, labels)
    ]
    if context.writes:
        write_jsonl(context.path("evaluator.steps"), rows)
    counts = [v for steps in labels for v in steps]
    return {
        "solutions": len(rows),
        "right_steps": counts.count(RIGHT),
        "wrong_steps": counts.count(WRONG),
        **info,
    }


def exact_labels(flat):
    """Exact step labels of `(problem, text)` pairs, one reference each."""
    references, labels = {}, []
    for problem, text in flat:
        if id(problem) not in references:
            references[id(problem)] = data_lib.ReferenceQuantities(problem)
        reference = references[id(problem)]
        labels.append(
            data_lib.exact_step_labels(problem, text, reference).labels
        )
    return labels


def sampling_stage(artifact, greedy):
    """Greedy decoding (pass@1) or N samples of each test problem."""

    def run(context):
        config = context.config
        test = context.problems[1]
        if greedy:
            draws = context.sampling_config(seed=config.run.seed).greedy()
        else:
            draws = context.sampling_config(
                num_samples=config.sampling.num_samples,
                temperature=config.sampling.temperature,
                seed=config.run.seed + 2,
            )
        context.sample(
            context.path(artifact),
            context.solver(generator_stage(config)),
            test,
            draws,
        )
        return {"problems": len(test)}

    return run


def test_scores(context):
    config = context.config
    test = context.problems[1]
    samples = aligned(context.store("test.samples"), test)
    evaluator = context.solver(evaluator_stage(config))
    problems = [p.problem for p, g in zip(test, samples) for _ in g]
    texts = [s.text for g in samples for s in g]
    kwargs = dict(
        batch_size=config.evaluator.evaluator_batch_size * 2,
        sequence_length=config.model.sequence_length,
    )
    if config.evaluator.evaluator == "process":
        steps = models.ProcessEvaluator(evaluator).score_steps(
            problems, texts, **kwargs
        )
        # A solution is as good as its weakest step.
        scores = models.aggregate_step_scores(steps, "min")
        step_scores = nest([[float(v) for v in s] for s in steps], samples)
        if context.writes:
            write_json_atomic(context.path("test.step_scores"), step_scores)
    else:
        scores = evaluator.score_solutions(problems, texts, **kwargs)
    nested = nest([float(s) for s in scores], samples)
    if context.writes:
        write_json_atomic(context.path("test.scores"), nested)
    return {"scored": len(scores)}


def nest(flat, groups):
    """`flat` cut into lists as long as each of `groups`."""
    nested, i = [], 0
    for group in groups:
        nested.append(flat[i : i + len(group)])
        i += len(group)
    return nested
