"""Issue 29's arms: how each evaluator is trained and what it scores.

Every arm starts from the seed's SSFT weights and trains with the
recipe's evaluation phase (AdamW, warmup, cosine decay, clipping; the
evaluator learning rate and batch size of the base run), for as many
steps as `steps_for` allows:

- `outcome`: the paper's pairs (`models.build_evaluator_examples`,
  margin loss), scored once after the solution;
- `outcome_hard`: pairs whose wrong solution has a plausible answer
  (`models.hard_outcome_pairs`), same training;
- `process_exact`, `process_mc`: a `models.ProcessEvaluator`
  (cross-entropy on every labelled step plus the margin between a good
  and a bad step of the same problem) on exact or Monte-Carlo step
  labels; a solution's score is the minimum or the product of its step
  scores.
"""

import dataclasses
import math
import time

import keras
import numpy as np

from keras_mathft import data
from keras_mathft import models

ARMS = ("outcome", "outcome_hard", "process_exact", "process_mc")
EPOCHS = 2
MAX_STEPS = 16  # steps per solution read in training (99th pct: 5)


def nest(flat, groups):
    """`flat` values cut into lists shaped like `groups`."""
    out, i = [], 0
    for group in groups:
        out.append([float(v) for v in flat[i : i + len(group)]])
        i += len(group)
    return out


def steps_for(base, count, table, cap=None):
    """Training steps: `EPOCHS` passes over `count` pairs, at least the
    size's `min_steps`, at most `cap`."""
    batch = base.evaluator.evaluator_batch_size
    steps = max(table["min_steps"], math.ceil(EPOCHS * count / batch))
    return steps if cap is None else min(steps, max(cap, table["min_steps"]))


def outcome_pairs(arm, inputs, table, seed):
    """The outcome arms' pairs on the evaluator training problems."""
    train = inputs["train"][: table["problems"]]
    texts = [[x.text for x in g] for g in inputs["train_samples"]]
    labels = inputs["train_labels"]
    if arm == "outcome":
        built = models.build_evaluator_examples(
            train,
            texts,
            labels,
            max_pairs_per_problem=table["max_pairs_per_problem"],
            seed=seed,
        )
    else:
        answers = [[x.answer for x in g] for g in inputs["train_samples"]]
        built = models.hard_outcome_pairs(
            train,
            texts,
            labels,
            answers,
            max_pairs_per_problem=table["max_pairs_per_problem"],
            seed=seed,
        )
    return built.pairs, vars(built.stats)


def process_pairs(step_labels, inputs, table, seed, problems=None):
    """Step pairs of the first `problems` evaluator training problems."""
    count = table["problems"] if problems is None else problems
    examples = [
        models.ProcessExample(p.problem, x.text, tuple(labels))
        for p, group, group_labels in zip(
            inputs["train"][:count], inputs["train_samples"], step_labels
        )
        for x, labels in zip(group, group_labels)
    ]
    pairs = models.build_process_pairs(
        examples,
        max_pairs_per_problem=table["max_pairs_per_problem"],
        seed=seed,
    )
    return pairs, {"examples": len(examples), "pairs": len(pairs)}


def _phase(base, steps):
    phase = base.training_phases()["evaluation"]
    return dataclasses.replace(phase, steps=steps, epochs=1)


def _trim(arrays):
    """Cuts the padding columns no row uses (to a multiple of 16)."""
    mask = arrays["padding_mask"]
    used = int(mask.sum(axis=-1).max())
    length = min(mask.shape[-1], 16 * math.ceil(used / 16))
    out = dict(arrays)
    for key in ("token_ids", "padding_mask"):
        out[key] = arrays[key][..., :length]
    return out


def train_outcome(base, run, pairs, steps):
    """A copy of the SSFT model trained on outcome `pairs` (untrained
    without pairs, as the recipe's evaluator stage)."""
    solver = run.copy_of("ssft")
    if not pairs:
        return solver, 0.0
    x = _trim(models.pair_inputs(solver, pairs, base.model.sequence_length))
    dataset = data.make_array_dataset(
        x,
        batch_size=base.evaluator.evaluator_batch_size,
        seed=base.run.seed,
        repeat=True,
        drop_remainder=len(pairs) >= base.evaluator.evaluator_batch_size,
    )
    keras.utils.set_random_seed(base.run.seed)
    start = time.perf_counter()
    models.fit_phases(
        solver, [_phase(base, steps)], {"evaluation": dataset}, verbose=0
    )
    return solver, time.perf_counter() - start


def train_process(base, run, pairs, steps):
    """A `models.ProcessEvaluator` over a copy of the SSFT model, trained on
    step `pairs` (untrained without pairs)."""
    solver = run.copy_of("ssft")
    evaluator = models.ProcessEvaluator(solver)
    x, y, weight = models.pair_step_inputs(
        solver, pairs, base.model.sequence_length, MAX_STEPS
    )
    if not len(y):
        return evaluator, 0.0, None
    x = _trim(x)
    batch = base.evaluator.evaluator_batch_size
    dataset = data.make_array_dataset(
        (x, y, weight),
        batch_size=batch,
        seed=base.run.seed,
        repeat=True,
        drop_remainder=len(y) >= batch,
    )
    phase = _phase(base, steps)
    options = phase.evaluator_options
    evaluator.compile(
        phase.make_optimizer(steps),
        evaluator_loss="mixture",
        margin=options.margin,
    )
    keras.utils.set_random_seed(base.run.seed)
    start = time.perf_counter()
    history = evaluator.fit(
        dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False
    )
    seconds = time.perf_counter() - start
    return evaluator, seconds, float(history.history["loss"][-1])


def score(evaluator, base, problems, groups):
    """`{variant: nested scores}` of `groups` (lists of `Sample`s, one
    per problem), and the step scores of a process evaluator."""
    flat_problems = [p.problem for p, g in zip(problems, groups) for _ in g]
    texts = [x.text for g in groups for x in g]
    kwargs = dict(
        batch_size=2 * base.evaluator.evaluator_batch_size,
        sequence_length=base.model.sequence_length,
    )
    if not isinstance(evaluator, models.ProcessEvaluator):
        flat = evaluator.score_solutions(flat_problems, texts, **kwargs)
        return {"score": nest(flat, groups)}, None
    steps = evaluator.score_steps(flat_problems, texts, **kwargs)
    out = {
        how: nest(models.aggregate_step_scores(steps, how), groups)
        for how in ("min", "product")
    }
    return out, [[float(v) for v in s] for s in steps]


def step_auc(step_scores, step_labels):
    """AUC of step scores over the labelled steps (right vs wrong), all
    solutions pooled; None without both kinds."""
    from keras_mathft import sampling

    correct, scores = [], []
    for values, labels in zip(step_scores, step_labels):
        pairs = [
            (v == 1, s)
            for v, s in zip(labels, values)
            if v is not None and not np.isnan(s)
        ]
        correct.append([c for c, _ in pairs])
        scores.append([s for _, s in pairs])
    return sampling.evaluator_auc(correct, scores)
