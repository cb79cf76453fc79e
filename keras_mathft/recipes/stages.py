"""The pipeline's stages, declared: what each reads, writes and does.

A `Stage` names the artifacts (files or folders in the run directory) it
reads and writes, and holds the function that runs it. `pipeline_stages`
lists a run's stages in order; `run_pipeline` runs them and, for a subset
(`stages=`), checks first that every artifact a stage reads is written by
a stage that is done or runs earlier. To add a stage, write its function
here and add it to `pipeline_stages`: nothing else names its files.
"""

import dataclasses
import json
import math
from typing import Callable

import numpy as np
from absl import logging

from keras_mathft import data as data_lib
from keras_mathft import grading
from keras_mathft import models
from keras_mathft import sampling
from keras_mathft.atomic_files import read_json
from keras_mathft.atomic_files import write_json_atomic
from keras_mathft.atomic_files import write_text_atomic
from keras_mathft.data.step_labels import RIGHT
from keras_mathft.data.step_labels import WRONG
from keras_mathft.recipes.tensorboard import log_report
from keras_mathft.sampling.sample_record import problem_id

WEIGHTS_FILE = "model.weights.h5"
# Process evaluator: steps read per training solution (the embedded
# task's 99th percentile is 5), and rollouts per step of Monte-Carlo labels
# (data other than the embedded task; their cost is steps x rollouts).
PROCESS_MAX_STEPS = 16
STEP_ROLLOUTS = 4


@dataclasses.dataclass(frozen=True)
class Stage:
    """One resumable step of the pipeline.

    Args:
        name: str, also the name of the stage's folder.
        run: `fn(context) -> dict`, does the work and returns the summary
            kept in the stage's `DONE.json`. `context` gives the config,
            problems, models and artifact paths (a
            `recipes.StageContext`).
        reads: tuple of artifact names the stage needs.
        writes: dict from artifact name to its path inside the stage's
            folder.
        ignores: tuple of `RecipeConfig` fields that neither this stage
            nor the stages it reads from depend on. Its folder may be
            copied into a run that differs only in them.
        writer_only: bool. With one process per host, process 0 runs the
            stage alone (it uses no model) and the others wait for it.
            Otherwise every process runs it (training spans every host;
            sampling shards the problems), and `context.writes` tells
            whether this process writes the files besides its samples.
    """

    name: str
    run: Callable
    reads: tuple = ()
    writes: dict = dataclasses.field(default_factory=dict)
    ignores: tuple = ()
    writer_only: bool = False


# What only the stages after `evaluator_data` read. A multi-task run and a
# plain one with the same other settings share their first three stages:
# copy those folders into the second run's directory and they are skipped.
_LATER_SETTINGS = (
    "multitask",
    "evaluator",
    # The evaluator data holds both examples and pairs, whatever the loss.
    "evaluator_loss",
    "margin",
    "evaluator_steps",
    "evaluator_learning_rate",
    "final_sft_steps",
    "top_k_clusters",
)


def generator_stage(config):
    """The stage whose model samples the test solutions."""
    return "multitask_generation" if config.multitask else "ssft"


def evaluator_stage(config):
    """The stage whose model scores them (the generator itself, multi-task)."""
    return "multitask_generation" if config.multitask else "evaluator"


def pipeline_stages(config):
    """The stages `run_pipeline` runs for `config`, in order.

    Returns:
        A list of `Stage`.
    """
    generator = generator_stage(config)
    evaluator = evaluator_stage(config)
    step_labels = (
        [
            Stage(
                "step_labels",
                _step_labels,
                reads=("ssft.weights", "train.store"),
                writes={"evaluator.steps": "steps.jsonl"},
            )
        ]
        if config.evaluator == "process"
        else []
    )
    data = _evaluator_training_data(config)
    middle = (
        [
            _training_stage(
                "multitask_evaluation", "evaluation", "ssft", data=data
            ),
            _training_stage(
                "multitask_generation", "regeneration", "multitask_evaluation"
            ),
        ]
        if config.multitask
        else [_training_stage("evaluator", "evaluation", "ssft", data=data)]
    )
    return [
        _training_stage("ssft", "generation", None, ignores=_LATER_SETTINGS),
        Stage(
            "train_samples",
            _train_samples,
            reads=("ssft.weights",),
            writes={"train.store": "store", "train.labels": "labels.json"},
            ignores=_LATER_SETTINGS,
        ),
        Stage(
            "evaluator_data",
            _evaluator_data,
            reads=("train.store", "train.labels"),
            writes={
                "evaluator.examples": "examples.jsonl",
                "evaluator.pairs": "pairs.jsonl",
            },
            ignores=_LATER_SETTINGS,
            writer_only=True,
        ),
        *step_labels,
        *middle,
        Stage(
            "test_greedy",
            _sampling_stage("test.greedy", greedy=True),
            reads=(f"{generator}.weights",),
            writes={"test.greedy": "store"},
        ),
        Stage(
            "test_samples",
            _sampling_stage("test.samples", greedy=False),
            reads=(f"{generator}.weights",),
            writes={"test.samples": "store"},
        ),
        Stage(
            "test_scores",
            _test_scores,
            reads=("test.samples", f"{evaluator}.weights"),
            writes=_score_files(config),
        ),
        Stage(
            "report",
            _report,
            reads=("test.samples", "test.greedy", *_score_files(config)),
            writes={"report": "report.json"},
            writer_only=True,
        ),
    ]


def _evaluator_training_data(config):
    """The artifacts the evaluation phase trains on."""
    if config.evaluator == "process":
        return ("evaluator.steps",)
    return ("evaluator.examples", "evaluator.pairs")


def _score_files(config):
    """The test scores' artifacts: a process evaluator's step scores too."""
    files = {"test.scores": "scores.json"}
    if config.evaluator == "process":
        files["test.step_scores"] = "step_scores.json"
    return files


def check_prerequisites(stages, selected, is_done):
    """Raises unless every artifact the selected stages read will exist.

    Args:
        stages: every `Stage` of the run, in order.
        selected: the names to run, in order.
        is_done: `fn(stage name) -> bool`, whether a stage is done.

    Raises:
        ValueError: naming the stages to run first.
    """
    writer = {a: s.name for s in stages for a in s.writes}
    reads = {s.name: s.reads for s in stages}
    available = {s.name for s in stages if is_done(s.name)}
    missing = []

    def need(name):
        if name in available or name in missing:
            return
        for artifact in reads[name]:
            need(writer[artifact])
        missing.append(name)

    for name in selected:
        if name not in available:
            for artifact in reads[name]:
                if writer[artifact] not in available:
                    need(writer[artifact])
        available.add(name)
    if missing:
        order = [s.name for s in stages]
        missing.sort(key=order.index)
        raise ValueError(
            f"Stages {selected} read artifacts of stages that have not run "
            f"in this run directory. Run {missing} first (or add them to "
            f"`stages`). Received: stages={selected}"
        )


# === Training stages ===


def _training_stage(name, phase, start_from, ignores=(), data=()):
    """A stage that trains the phase `phase` of `config.training_phases()`.

    It starts from a fresh model (`start_from=None`) or from the weights of
    the stage `start_from`, and saves its weights and checkpoints. `data`
    names the artifacts its training data comes from, beside the weights.
    """
    reads = () if start_from is None else (f"{start_from}.weights",)
    reads += data

    def run(context):
        if start_from is None:
            solver = context.new_solver()
        else:
            solver = context.copy_of(start_from)
        return _train(context, name, solver, phase)

    return Stage(
        name,
        run,
        reads=reads,
        writes={f"{name}.weights": WEIGHTS_FILE},
        ignores=ignores,
    )


def _train(context, stage, solver, phase_name):
    config = context.config
    phase = config.training_phases()[phase_name]
    weights = context.path(f"{stage}.weights")
    context.seed()
    model = None
    if phase.objective == "generation":
        dataset, info = _generation_dataset(context, solver)
    elif config.evaluator == "process":
        # Trains the generator's own weights, read at every step's end.
        model = models.ProcessEvaluator(solver)
        dataset, info = _process_dataset(context, solver)
    else:
        dataset, info = _evaluator_dataset(context, solver)
    if phase.objective == "evaluation" and dataset is None:
        # Every sampled answer was right (or every one wrong): there is
        # nothing to learn from, so the evaluator stays the SSFT model.
        logging.warning(
            "No evaluator training data for loss %r (%s); the %s stage "
            "keeps the SSFT weights untrained.",
            config.evaluator_loss,
            info,
            stage,
        )
        context.save_weights(solver, weights)
        return {"trained": False, **info}
    trained = context.train(stage, solver, phase, dataset, weights, model)
    stats = {**trained, **info}
    if phase.objective == "evaluation":
        stats["trained"] = True
    return stats


def _generation_dataset(context, solver):
    config = context.config
    prompts, responses = data_lib.sft_pairs(
        context.problems[0], solver.prompt_template
    )
    length = config.resolved("sequence_length")
    pairs = data_lib.tokenize_pairs(
        solver.tokenizer, prompts, responses, length
    )
    dataset = data_lib.make_sft_dataset(
        pairs,
        batch_size=config.resolved("batch_size"),
        bucket_lengths=data_lib.linear_bucket_lengths(length, num_buckets=2),
        seed=config.seed,
        repeat=True,
        drop_remainder=True,
    )
    info = {
        "examples": int(pairs.stats.num_kept),
        "truncated": int(pairs.stats.num_truncated),
        "dropped": int(pairs.stats.num_dropped),
    }
    return dataset, info


def _evaluator_dataset(context, solver):
    config = context.config
    length = config.resolved("sequence_length")
    if config.evaluator_loss == "xent":
        rows = _read_jsonl(context.path("evaluator.examples"))
        examples = [models.EvaluatorExample(**r) for r in rows]
        if not examples:
            return None, {"examples": 0}
        x, y = models.classification_inputs(solver, examples, length)
        x = _trim(x)
        elements, count = (x, y), len(examples)
        info = {"examples": count}
    else:
        rows = _read_jsonl(context.path("evaluator.pairs"))
        pairs = [models.EvaluatorPair(**r) for r in rows]
        if not pairs:
            return None, {"pairs": 0}
        x = _trim(models.pair_inputs(solver, pairs, length))
        elements, count = x, len(pairs)
        info = {"pairs": count}
    info["sequence_length"] = int(x["token_ids"].shape[-1])
    return _repeated_batches(config, elements, count), info


def _process_dataset(context, solver):
    """Batches of step pairs: a right and a wrong step of one problem."""
    config = context.config
    rows = _read_jsonl(context.path("evaluator.steps"))
    pairs = models.build_process_pairs(
        [models.ProcessExample(**r) for r in rows],
        max_pairs_per_problem=config.max_pairs_per_problem,
        seed=config.seed,
    )
    if not pairs:
        return None, {"step_pairs": 0}
    x, y, weight = models.pair_step_inputs(
        solver, pairs, config.resolved("sequence_length"), PROCESS_MAX_STEPS
    )
    x = _trim(x)
    info = {
        "step_pairs": len(pairs),
        "sequence_length": int(x["token_ids"].shape[-1]),
    }
    return _repeated_batches(config, (x, y, weight), len(pairs)), info


def _repeated_batches(config, elements, count):
    batch_size = config.resolved("evaluator_batch_size")
    return data_lib.make_array_dataset(
        elements,
        batch_size=batch_size,
        seed=config.seed,
        repeat=True,
        # Fewer rows than a batch: each batch holds them all.
        drop_remainder=count >= batch_size,
    )


# === Sampling and data stages ===


def _train_samples(context):
    config = context.config
    problems = context.eval_train_problems()
    store = context.sample(
        context.path("train.store"),
        context.solver("ssft"),
        problems,
        context.sampling_config(
            num_samples=config.resolved("num_train_samples"),
            temperature=config.temperature,
            seed=config.seed + 1,
        ),
    )
    samples = _aligned(store, problems)
    labels = [
        [_is_correct(s.answer, p.answer) for s in group]
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


def _evaluator_data(context):
    problems = context.eval_train_problems()
    samples = _aligned(context.store("train.store"), problems)
    labels = read_json(context.path("train.labels"))
    built = models.build_evaluator_examples(
        problems,
        [[s.text for s in group] for group in samples],
        labels,
        max_pairs_per_problem=context.config.max_pairs_per_problem,
        seed=context.config.seed,
    )
    _write_jsonl(
        context.path("evaluator.examples"), [vars(e) for e in built.examples]
    )
    _write_jsonl(
        context.path("evaluator.pairs"), [vars(p) for p in built.pairs]
    )
    stats = {k: int(v) for k, v in vars(built.stats).items() if k != "summary"}
    context.log("[evaluator_data] %s", built.stats.summary())
    return stats


def _step_labels(context):
    """A label per step of every training sample, for the process evaluator.

    Exact on the embedded task (each line checked against the problem);
    on other data, Monte-Carlo: `STEP_ROLLOUTS` rollouts of the SSFT model
    from each step's prefix, a step right when one reaches the answer.
    """
    config = context.config
    problems = context.eval_train_problems()
    samples = _aligned(context.store("train.store"), problems)
    flat = [(p, s.text) for p, group in zip(problems, samples) for s in group]
    if config.data == "embedded":
        labels, info = _exact_labels(flat), {"source": "exact"}
    else:
        labels, cost = sampling.monte_carlo_step_labels(
            context.solver("ssft"),
            [p for p, _ in flat],
            [text for _, text in flat],
            num_rollouts=STEP_ROLLOUTS,
            max_new_tokens=config.resolved("max_new_tokens"),
            temperature=config.temperature,
            top_p=config.top_p,
            seed=config.seed + 3,
            verbose=context.verbose >= 2,
        )
        labels = [x.labels for x in labels]
        info = {"source": "monte_carlo", **dataclasses.asdict(cost)}
    rows = [
        {"problem": p.problem, "solution": text, "labels": list(steps)}
        for (p, text), steps in zip(flat, labels)
    ]
    if context.writes:
        _write_jsonl(context.path("evaluator.steps"), rows)
    counts = [v for steps in labels for v in steps]
    return {
        "solutions": len(rows),
        "right_steps": counts.count(RIGHT),
        "wrong_steps": counts.count(WRONG),
        **info,
    }


def _exact_labels(flat):
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


def _sampling_stage(artifact, greedy):
    """Greedy decoding (pass@1) or N samples of each test problem."""

    def run(context):
        config = context.config
        test = context.problems[1]
        if greedy:
            draws = context.sampling_config(seed=config.seed).greedy()
        else:
            draws = context.sampling_config(
                num_samples=config.resolved("num_samples"),
                temperature=config.temperature,
                seed=config.seed + 2,
            )
        context.sample(
            context.path(artifact),
            context.solver(generator_stage(config)),
            test,
            draws,
        )
        return {"problems": len(test)}

    return run


def _test_scores(context):
    config = context.config
    test = context.problems[1]
    samples = _aligned(context.store("test.samples"), test)
    evaluator = context.solver(evaluator_stage(config))
    problems = [p.problem for p, g in zip(test, samples) for _ in g]
    texts = [s.text for g in samples for s in g]
    kwargs = dict(
        batch_size=config.resolved("evaluator_batch_size") * 2,
        sequence_length=config.resolved("sequence_length"),
    )
    if config.evaluator == "process":
        steps = models.ProcessEvaluator(evaluator).score_steps(
            problems, texts, **kwargs
        )
        # A solution is as good as its weakest step.
        scores = models.aggregate_step_scores(steps, "min")
        step_scores = _nest([[float(v) for v in s] for s in steps], samples)
        if context.writes:
            write_json_atomic(context.path("test.step_scores"), step_scores)
    else:
        scores = evaluator.score_solutions(problems, texts, **kwargs)
    nested = _nest([float(s) for s in scores], samples)
    if context.writes:
        write_json_atomic(context.path("test.scores"), nested)
    return {"scored": len(scores)}


def _nest(flat, groups):
    """`flat` cut into lists as long as each of `groups`."""
    nested, i = [], 0
    for group in groups:
        nested.append(flat[i : i + len(group)])
        i += len(group)
    return nested


# === Report ===

# Resamplings of the test problems behind the report's intervals.
REPORT_BOOTSTRAP = 1000


def _report(context):
    config = context.config
    test = context.problems[1]
    samples = _aligned(context.store("test.samples"), test)
    greedy = [g[0] for g in _aligned(context.store("test.greedy"), test)]
    scores = read_json(context.path("test.scores"))
    num = config.resolved("num_samples")
    n_values = sorted({2**i for i in range(int(math.log2(num)) + 1)} | {num})
    result = sampling.evaluate(
        test,
        samples,
        greedy=greedy,
        scores=scores,
        top_k=config.top_k_clusters,
        top_n=config.top_k_clusters,
        n_values=n_values,
        trials=16,
        seed=config.seed,
        # One run's test set is small: the report carries 95% intervals
        # and says whether re-ranking is told apart from voting.
        bootstrap=REPORT_BOOTSTRAP,
    )
    correct = [
        [_is_correct(s.answer, p.answer) for s in group]
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
    if config.evaluator == "process":
        result["recipe"]["process_product"] = _product_figures(
            context, samples, correct
        )
    directory = context.path("report").parent
    title = (
        "Multi-task sequential fine-tuning"
        if config.multitask
        else "SSFT generator, evaluator re-ranking"
    )
    sampling.write_report(result, directory, title=title)
    if config.tensorboard is not None:
        log_report(config.tensorboard, result)
    return {"report": str(directory / "report.md")}


def _product_figures(context, samples, correct):
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
        top_k=config.top_k_clusters,
        top_n=config.top_k_clusters,
        n_values=(config.resolved("num_samples"),),
        trials=1,
        seed=config.seed,
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


# === Helpers ===


def _is_correct(answer, reference):
    return answer is not None and bool(
        grading.answers_equivalent(answer, reference)
    )


def _aligned(store, problems):
    """The store's samples as one list per problem, in problem order."""
    by_problem = store.by_problem()
    return [by_problem[problem_id(p, i)] for i, p in enumerate(problems)]


def _trim(x):
    """Cuts token columns that no row uses (to a multiple of 16)."""
    mask = x["padding_mask"]
    used = int(np.max(np.sum(mask, axis=-1))) if mask.size else 1
    buckets = data_lib.linear_bucket_lengths(
        mask.shape[-1], num_buckets=None, multiple=16
    )
    length = data_lib.bucket_length(used, buckets)
    # Other inputs (a process batch's step positions) index the tokens.
    columns = ("token_ids", "padding_mask")
    return {k: v[..., :length] if k in columns else v for k, v in x.items()}


def _write_jsonl(path, rows):
    write_text_atomic(
        path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )


def _read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
