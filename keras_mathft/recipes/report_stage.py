"""What the report stage does: every metric, with intervals, and the
evaluator's quality."""

import math

import numpy as np

from keras_mathft import models
from keras_mathft import sampling
from keras_mathft.atomic_files import read_json
from keras_mathft.recipes.stage_common import aligned
from keras_mathft.recipes.stage_common import evaluator_stage
from keras_mathft.recipes.stage_common import generator_stage
from keras_mathft.recipes.stage_common import is_correct
from keras_mathft.recipes.tensorboard import log_report

# Resamplings of the test problems behind the report's intervals.
REPORT_BOOTSTRAP = 1000


def report(context):
    config = context.config
    test = context.problems[1]
    samples = aligned(context.store("test.samples"), test)
    greedy = [g[0] for g in aligned(context.store("test.greedy"), test)]
    scores = read_json(context.path("test.scores"))
    num = config.sampling.num_samples
    n_values = sorted({2**i for i in range(int(math.log2(num)) + 1)} | {num})
    result = sampling.evaluate(
        test,
        samples,
        greedy=greedy,
        scores=scores,
        top_k=config.sampling.top_k_clusters,
        top_n=config.sampling.top_k_clusters,
        n_values=n_values,
        trials=16,
        seed=config.run.seed,
        # One run's test set is small: the report carries 95% intervals
        # and says whether re-ranking is told apart from voting.
        bootstrap=REPORT_BOOTSTRAP,
    )
    correct = [
        [is_correct(s.answer, p.answer) for s in group]
        for p, group in zip(test, samples)
    ]
    result["recipe"] = {
        "config": context.comparable_config(),
        "resolved": config.resolved_settings(),
        "generator": generator_stage(config),
        "evaluator": evaluator_stage(config),
        "stages": context.summaries(),
        "test_sample_accuracy": float(np.mean([v for g in correct for v in g])),
        "evaluator_auc": sampling.evaluator_auc(correct, scores),
        # Re-ranking compares samples of one problem: this AUC is the one
        # it uses (the global one also rewards knowing easy problems).
        "evaluator_within_problem_auc": sampling.within_problem_auc(
            correct, scores
        ),
        # Scores are P(correct) from the two label words, so calibrated
        # or not.
        "evaluator_ece": sampling.expected_calibration_error(correct, scores),
    }
    if config.evaluator.evaluator == "process":
        result["recipe"]["process_product"] = product_figures(
            context, samples, correct
        )
    directory = context.path("report").parent
    title = (
        "Multi-task sequential fine-tuning"
        if config.training.multitask
        else "SSFT generator, evaluator re-ranking"
    )
    sampling.write_report(result, directory, title=title)
    if config.run.tensorboard is not None:
        log_report(config.run.tensorboard, result)
    return {"report": str(directory / "report.md")}


def product_figures(context, samples, correct):
    """The process evaluator's re-ranking when a solution's score is the
    product of its step scores (the report's scores are the minimum)."""
    config = context.config
    steps = read_json(context.path("test.step_scores"))
    scores = [
        models.aggregate_step_scores(group, "product").tolist()
        for group in steps
    ]
    result = sampling.evaluate(
        context.problems[1],
        samples,
        scores=scores,
        top_k=config.sampling.top_k_clusters,
        top_n=config.sampling.top_k_clusters,
        n_values=(config.sampling.num_samples,),
        trials=1,
        seed=config.run.seed,
    )
    methods = result["overall"]["methods"]
    return {
        "evaluator_within_problem_auc": sampling.within_problem_auc(
            correct, scores
        ),
        **{
            name: methods[name]["accuracy"]
            for name, reranker in sampling.RERANKERS.items()
            if reranker.needs_scores
        },
    }
