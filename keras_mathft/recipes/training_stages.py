"""What the training stages do: their datasets and the fit.

A training stage (`stages.pipeline_stages` declares them) trains one phase
of `RecipeConfig.training_phases()`: generation on the SSFT solutions, or
evaluation on the evaluator data (outcome examples and pairs, or a
process evaluator's step pairs).
"""

from absl import logging

from keras_mathft import data as data_lib
from keras_mathft import models
from keras_mathft.recipes.stage_common import read_jsonl
from keras_mathft.recipes.stage_common import trim

# Process evaluator: steps read per training solution (the embedded
# task's 99th percentile is 5), and rollouts per step of Monte-Carlo labels
# (data other than the embedded task; their cost is steps x rollouts).
PROCESS_MAX_STEPS = 16


def train(context, stage, solver, phase_name):
    config = context.config
    phase = config.training_phases()[phase_name]
    weights = context.path(f"{stage}.weights")
    context.seed()
    model = None
    if phase.objective == "generation":
        dataset, info = generation_dataset(context, solver)
    elif config.evaluator.evaluator == "process":
        # Trains the generator's own weights, read at every step's end.
        model = models.ProcessEvaluator(solver)
        dataset, info = process_dataset(context, solver)
    else:
        dataset, info = evaluator_dataset(context, solver)
    if phase.objective == "evaluation" and dataset is None:
        # Every sampled answer was right (or every one wrong): there is
        # nothing to learn from, so the evaluator stays the SSFT model.
        logging.warning(
            "No evaluator training data for loss %r (%s); the %s stage "
            "keeps the SSFT weights untrained.",
            config.evaluator.evaluator_loss,
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


def generation_dataset(context, solver):
    config = context.config
    prompts, responses = data_lib.sft_pairs(
        context.problems[0], solver.prompt_template
    )
    length = config.model.sequence_length
    pairs = data_lib.tokenize_pairs(
        solver.tokenizer, prompts, responses, length
    )
    dataset = data_lib.make_sft_dataset(
        pairs,
        batch_size=config.training.batch_size,
        bucket_lengths=data_lib.linear_bucket_lengths(length, num_buckets=2),
        seed=config.run.seed,
        repeat=True,
        drop_remainder=True,
    )
    info = {
        "examples": int(pairs.stats.num_kept),
        "truncated": int(pairs.stats.num_truncated),
        "dropped": int(pairs.stats.num_dropped),
    }
    return dataset, info


def evaluator_dataset(context, solver):
    config = context.config
    length = config.model.sequence_length
    if config.evaluator.evaluator_loss == "xent":
        rows = read_jsonl(context.path("evaluator.examples"))
        examples = [models.EvaluatorExample(**r) for r in rows]
        if not examples:
            return None, {"examples": 0}
        x, y = models.classification_inputs(solver, examples, length)
        x = trim(x)
        elements, count = (x, y), len(examples)
        info = {"examples": count}
    else:
        rows = read_jsonl(context.path("evaluator.pairs"))
        pairs = [models.EvaluatorPair(**r) for r in rows]
        if not pairs:
            return None, {"pairs": 0}
        x = trim(models.pair_inputs(solver, pairs, length))
        elements, count = x, len(pairs)
        info = {"pairs": count}
    info["sequence_length"] = int(x["token_ids"].shape[-1])
    return repeated_batches(config, elements, count), info


def process_dataset(context, solver):
    """Batches of step pairs: a right and a wrong step of one problem."""
    config = context.config
    rows = read_jsonl(context.path("evaluator.steps"))
    pairs = models.build_process_pairs(
        [models.ProcessExample(**r) for r in rows],
        max_pairs_per_problem=config.evaluator.max_pairs_per_problem,
        seed=config.run.seed,
    )
    if not pairs:
        return None, {"step_pairs": 0}
    x, y, weight = models.pair_step_inputs(
        solver, pairs, config.model.sequence_length, PROCESS_MAX_STEPS
    )
    x = trim(x)
    info = {
        "step_pairs": len(pairs),
        "sequence_length": int(x["token_ids"].shape[-1]),
    }
    return repeated_batches(config, (x, y, weight), len(pairs)), info


def repeated_batches(config, elements, count):
    batch_size = config.evaluator.evaluator_batch_size
    return data_lib.make_array_dataset(
        elements,
        batch_size=batch_size,
        seed=config.run.seed,
        repeat=True,
        # Fewer rows than a batch: each batch holds them all.
        drop_remainder=count >= batch_size,
    )
