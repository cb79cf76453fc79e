"""Monte-Carlo step labels: does a solution's prefix still reach the answer?

For any data with a gold answer (MATH included), a step of a sampled
solution is labelled by rolling the generator out from the solution's
prefix up to that step (Math-Shepherd, Wang et al., 2024): `k` rollouts
continue the prefix, and the step is good when at least `min_right` of
them reach the gold answer. The labels then follow the exact labels'
convention (`keras_mathft.data.step_labels.label_steps`): right up to the
first bad step, which is labelled wrong, and unlabelled after it.

The last step needs no rollout: it is labelled by the solution's own
outcome (its final answer right or not; a solution without an answer is
wrong). Every other step costs `k` rollouts, so the cost is
`sum(steps - 1) * k` rollouts; `monte_carlo_step_labels` returns it
measured (`RolloutCost`).

All prefixes go to the sampler in one call (`sample_solutions`), so they
share its continuous batching, and each prefix is prefilled once for its
`k` rollouts. Rollout `j` of step `s` of solution `i` is the sampler's
sample `j` of the problem whose text is the generation prompt followed by
the prefix and whose id is `rollout_id(problem_id, i, s)`: its random
stream depends on that alone, so a rollout is the same whether it is
drawn with the others or by itself.
"""

import dataclasses
import time

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.data.records import MathProblem
from keras_mathft.data.step_labels import RIGHT
from keras_mathft.data.step_labels import WRONG
from keras_mathft.data.step_labels import label_steps
from keras_mathft.data.step_labels import split_steps
from keras_mathft.sampling.sample_record import problem_id
from keras_mathft.sampling.sampling_config import resolve_config

# The sampler's template for prompts that are already whole.
RAW_TEMPLATE = PromptTemplate(generation="{problem}")


@dataclasses.dataclass(frozen=True)
class MonteCarloLabels:
    """One solution's Monte-Carlo step labels.

    Args:
        steps: tuple of `data.step_labels.Step`.
        right: tuple of int, per step: rollouts that reached the gold
            answer; for the last step, `num_rollouts` when the solution
            itself is right and 0 otherwise.
        num_rollouts: int, `k`.
        labels: tuple of `RIGHT`, `WRONG` or None, per step.
    """

    steps: tuple
    right: tuple
    num_rollouts: int
    labels: tuple

    @property
    def values(self):
        """Per step, the share of its rollouts that reached the answer."""
        return tuple(r / self.num_rollouts for r in self.right)


@dataclasses.dataclass(frozen=True)
class RolloutCost:
    """What a labelling run cost.

    Args:
        solutions: int, solutions labelled.
        steps: int, their steps.
        rollouts: int, rollouts drawn (`k` per step but the last).
        tokens: int, tokens the rollouts generated.
        seconds: float, wall time of the sampling.
    """

    solutions: int
    steps: int
    rollouts: int
    tokens: int
    seconds: float


def rollout_id(problem_key, solution_index, step_index):
    """The id of the rollout problem of one step (see the module doc)."""
    return f"{problem_key}#rollout{solution_index}.{step_index}"


def answer_reaches_gold(problem, text):
    """Whether `text`'s final answer is equivalent to `problem.answer`."""
    from keras_mathft import grading

    answer = grading.extract_answer(text)
    return answer is not None and bool(
        grading.answers_equivalent(answer, problem.answer)
    )


def rollout_problems(template, problems, solutions):
    """The rollout problem of every step but the last of every solution.

    Args:
        template: the generator's `PromptTemplate`.
        problems: list of `MathProblem`, one per solution.
        solutions: list of str.

    Returns:
        `(rollouts, owners)`: a list of `MathProblem` whose text is the
        generation prompt and the prefix, and for each its
        `(solution index, step index, prefix)`.
    """
    rollouts, owners = [], []
    for i, (problem, solution) in enumerate(zip(problems, solutions)):
        steps = split_steps(solution)
        key = problem_id(problem, i)
        prompt = template.generation_prompt(problem.problem)
        for s, step in enumerate(steps[:-1]):
            prefix = solution[: step.end]
            rollouts.append(
                MathProblem(
                    problem=prompt + prefix,
                    solution="",
                    answer=problem.answer,
                    unique_id=rollout_id(key, i, s),
                )
            )
            owners.append((i, s, prefix))
    return rollouts, owners


def monte_carlo_step_labels(
    model,
    problems,
    solutions,
    *,
    num_rollouts=8,
    min_right=1,
    max_new_tokens=256,
    temperature=0.9,
    top_p=0.95,
    seed=0,
    is_right=None,
    verbose=False,
    config=None,
    prompt_template=None,
):
    """Step labels of sampled solutions from rollouts of their prefixes.

    Args:
        model: the generator, a `MathSolver` (or a keras-hub `CausalLM`;
            then pass `prompt_template` for its generation prompt).
        problems: list of `MathProblem` (with `answer`), one per solution;
            a problem may repeat.
        solutions: list of str, the sampled solutions.
        num_rollouts: int, `k`, rollouts per step.
        min_right: int in [1, k]: a step is good when at least this many
            of its rollouts reach the gold answer (1: "some rollout";
            `ceil(f * k)` for a fraction `f`).
        max_new_tokens: int, most tokens per rollout.
        temperature, top_p: the rollouts' sampling settings.
        seed: int.
        is_right: optional `(problem, text) -> bool`, whether a text (the
            prefix and its continuation, or a whole solution) reaches the
            gold answer; defaults to `answer_reaches_gold`.
        verbose: bool, the sampler's progress bar.
        config: optional `SamplingConfig` for how the rollouts are decoded
            (stops, schedule, rows, memory budget; its `top_k` too); its
            other draw settings are the arguments above.
        prompt_template: optional `PromptTemplate`, the generator's
            (the model's, or `PromptTemplate()`, by default).

    Returns:
        `(labels, cost)`: a list of `MonteCarloLabels` (one per solution)
        and the `RolloutCost`.

    Raises:
        ValueError: when the lists differ in length or `min_right` is not
            in [1, num_rollouts].

    Example:

    >>> labels, cost = monte_carlo_step_labels(
    ...     solver, problems, texts, num_rollouts=4)  # doctest: +SKIP
    >>> labels[0].labels  # doctest: +SKIP
    (1, 1, 0, None)
    """
    _check_arguments(problems, solutions, min_right, num_rollouts)
    is_right = is_right or answer_reaches_gold
    config = resolve_config(config).replace(
        num_samples=num_rollouts,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    drawn = _draw_rollouts(
        model, problems, solutions, prompt_template, config, verbose
    )
    return _labels_and_cost(
        problems, solutions, drawn, is_right, min_right, num_rollouts
    )


def _check_arguments(problems, solutions, min_right, num_rollouts):
    if len(problems) != len(solutions):
        raise ValueError(
            "`problems` and `solutions` must have the same length. "
            f"Received: {len(problems)} and {len(solutions)}"
        )
    if not 1 <= min_right <= num_rollouts:
        raise ValueError(
            "`min_right` must be in [1, num_rollouts]. Received: "
            f"min_right={min_right}, num_rollouts={num_rollouts}"
        )


def _draw_rollouts(model, problems, solutions, template, config, verbose):
    """Samples the rollouts of every step prefix but the last.

    Returns `(owners, groups, seconds)`: each rollout problem's
    `(solution index, step index, prefix)`, its sampled continuations and
    the wall time of the sampling.
    """
    from keras_mathft.sampling.sampler import sample_solutions

    template = template or getattr(model, "prompt_template", None)
    template = template or PromptTemplate()
    rollouts, owners = rollout_problems(template, problems, solutions)
    start = time.perf_counter()
    groups = []
    if rollouts:
        # The rollout problems are whole prompts already.
        groups = sample_solutions(
            model, rollouts, config, verbose, prompt_template=RAW_TEMPLATE
        )
    return owners, groups, time.perf_counter() - start


def _labels_and_cost(
    problems, solutions, drawn, is_right, min_right, num_rollouts
):
    """Each solution's `MonteCarloLabels` from its rollouts, and the cost."""
    owners, groups, seconds = drawn
    counts = {}
    tokens = 0
    for (i, s, prefix), group in zip(owners, groups):
        counts[i, s] = sum(
            bool(is_right(problems[i], prefix + x.text)) for x in group
        )
        tokens += sum(x.num_tokens for x in group)
    out, total_steps = [], 0
    for i, (problem, solution) in enumerate(zip(problems, solutions)):
        steps = split_steps(solution)
        total_steps += len(steps)
        right = [counts[i, s] for s in range(len(steps) - 1)]
        if steps:
            right.append(num_rollouts if is_right(problem, solution) else 0)
        labels = label_steps([r >= min_right for r in right])
        out.append(
            MonteCarloLabels(tuple(steps), tuple(right), num_rollouts, labels)
        )
    cost = RolloutCost(
        solutions=len(solutions),
        steps=total_steps,
        rollouts=len(owners) * num_rollouts,
        tokens=int(tokens),
        seconds=float(seconds),
    )
    return out, cost


def step_label_agreement(first, second):
    """How often two labellings of the same steps agree.

    Args:
        first, second: lists of label tuples (one per solution), e.g.
            exact labels and Monte-Carlo labels of the same solutions.

    Returns:
        A dict: `steps` compared (labelled in both), `agreement` (share
        equal), and `right_as_wrong` / `wrong_as_right` (shares of
        `first`'s right or wrong steps that `second` labels otherwise);
        shares are None without steps to compare.

    Example:

    >>> step_label_agreement([(1, 1, 0)], [(1, 0, None)])["agreement"]
    0.5
    """
    both = [
        (a, b)
        for x, y in zip(first, second, strict=True)
        for a, b in zip(x, y, strict=True)
        if a is not None and b is not None
    ]

    def share(pairs):
        return sum(a == b for a, b in pairs) / len(pairs) if pairs else None

    rights = [(a, b) for a, b in both if a == RIGHT]
    wrongs = [(a, b) for a, b in both if a == WRONG]
    return {
        "steps": len(both),
        "agreement": share(both),
        "right_as_wrong": None if not rights else 1 - share(rights),
        "wrong_as_right": None if not wrongs else 1 - share(wrongs),
    }
