"""Prompt templates for the generator and the evaluator."""

import dataclasses
import re

DEFAULT_GENERATION_TEMPLATE = "Problem:\n{problem}\n\nSolution:\n"
# The paper's evaluator input (Liu et al., 2023, section 3): the next token
# after this text is read as the label word.
DEFAULT_EVALUATION_TEMPLATE = (
    "Here is a math problem: {problem} Here is a candidate solution: "
    "{solution} The above candidate solution is"
)


@dataclasses.dataclass(frozen=True)
class PromptTemplate:
    """The texts that turn problems and solutions into model inputs.

    Models keep their template in their config, so training and inference
    always format text the same way.

    Args:
        generation: str. Template with a `{problem}` field; the model writes
            the solution right after it.
        evaluation: str. Template with `{problem}` and `{solution}` fields;
            the evaluator's label word follows it.
        correct_label: str. Label word for a correct solution (with its
            leading space, as it continues the evaluation text).
        incorrect_label: str. Label word for an incorrect solution.

    Example:

    >>> t = PromptTemplate()
    >>> t.generation_prompt("What is 1+1?")
    'Problem:\\nWhat is 1+1?\\n\\nSolution:\\n'
    """

    generation: str = DEFAULT_GENERATION_TEMPLATE
    evaluation: str = DEFAULT_EVALUATION_TEMPLATE
    correct_label: str = " correct"
    incorrect_label: str = " incorrect"

    def __post_init__(self):
        _check_fields("generation", self.generation, ("problem",))
        _check_fields("evaluation", self.evaluation, ("problem", "solution"))
        if not self.correct_label or not self.incorrect_label:
            raise ValueError(
                "`correct_label` and `incorrect_label` must be non-empty. "
                f"Received: {self.correct_label!r}, {self.incorrect_label!r}"
            )
        if self.correct_label == self.incorrect_label:
            raise ValueError(
                "`correct_label` and `incorrect_label` must differ. "
                f"Received: {self.correct_label!r} twice"
            )

    def generation_prompt(self, problem):
        """Returns the generator's input text for `problem`."""
        return _fill(self.generation, problem=problem)

    def evaluation_prompt(self, problem, solution):
        """Returns the evaluator's input text, without the label word."""
        return _fill(self.evaluation, problem=problem, solution=solution)

    def get_config(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def get(cls, template):
        """A `PromptTemplate` from one, its config dict, or `None` (default).

        Example:

        >>> PromptTemplate.get({"generation": "Q: {problem}\\nA:"}).generation
        'Q: {problem}\\nA:'
        """
        if template is None:
            return cls()
        if isinstance(template, dict):
            return cls.from_config(template)
        if not isinstance(template, cls):
            raise ValueError(
                "`prompt_template` must be a `PromptTemplate`, its config "
                f"dict or None. Received: {type(template).__name__}"
            )
        return template


def few_shot_template(exemplars, template=None, separator="\n\n"):
    """A template whose generation prompt starts with solved examples.

    A base (not instruction-tuned) model continues text: shown a few
    problems in the template's format, each followed by its reference
    solution, it writes the next solution in the same style. It then
    tends to go on with a new problem, so sample with
    `stop_strings=few_shot_stop_strings(template, separator)`.

    Args:
        exemplars: list of `MathProblem`, shown in order.
        template: the `PromptTemplate` to extend, or `None` for the default.
        separator: str. Text between an exemplar's solution and what
            follows it.

    Returns:
        A `PromptTemplate` with the same evaluation template and labels.

    Example:

    >>> from keras_mathft.data.records import MathProblem
    >>> shot = MathProblem("1+1?", "1+1=2", "2")
    >>> print(few_shot_template([shot]).generation_prompt("2+2?"))
    Problem:
    1+1?
    <BLANKLINE>
    Solution:
    1+1=2
    <BLANKLINE>
    Problem:
    2+2?
    <BLANKLINE>
    Solution:
    <BLANKLINE>
    """
    template = PromptTemplate.get(template)
    if not exemplars:
        raise ValueError(
            "`exemplars` must hold at least one solved problem. "
            f"Received: {exemplars!r}"
        )
    shots = "".join(
        template.generation_prompt(e.problem) + e.solution.strip() + separator
        for e in exemplars
    )
    # The generation template is filled by one pass over `{problem}`, so an
    # exemplar's own braces stay as they are; only a literal `{problem}` in
    # an exemplar would be ambiguous.
    if "{problem}" in shots:
        raise ValueError(
            "An exemplar contains the text `{problem}`, which the template "
            "reserves. Received: an exemplar with `{problem}`"
        )
    return dataclasses.replace(template, generation=shots + template.generation)


def few_shot_stop_strings(template=None, separator="\n\n"):
    """Where a few-shot continuation starts a new problem.

    Args:
        template: the `PromptTemplate` given to `few_shot_template`.
        separator: the separator given to it.

    Returns:
        A list with one str: `separator` plus the template's text before
        `{problem}`, trailing whitespace removed.

    Example:

    >>> few_shot_stop_strings()
    ['\\n\\nProblem:']
    """
    template = PromptTemplate.get(template)
    head = template.generation.split("{problem}")[0].rstrip()
    return [separator + head] if head else [separator]


def _fill(template, **values):
    # One pass over the template, not str.format: problems are full of LaTeX
    # braces, and text inside a value must never be substituted again.
    pattern = "|".join(re.escape("{" + key + "}") for key in values)
    return re.sub(pattern, lambda m: values[m.group(0)[1:-1]], template)


def _check_fields(name, template, fields):
    for field in fields:
        if template.count("{" + field + "}") != 1:
            raise ValueError(
                f"The {name} template must contain `{{{field}}}` exactly "
                f"once. Received: {template!r}"
            )


def sft_pairs(problems, template=None):
    """Returns `(prompts, responses)` for solution fine-tuning.

    The prompt is `template.generation_prompt(problem)` and the response
    the reference solution, which ends in `\\boxed{answer}` (the paper's
    target: solution steps then final answer).

    Args:
        problems: list of `MathProblem`.
        template: `PromptTemplate` or `None` for the default.

    Returns:
        Two lists of str, ready for `tokenize_pairs`.

    Example:

    >>> from keras_mathft.data.records import MathProblem
    >>> p = MathProblem("1+1?", "$\\\\boxed{2}$", "2")
    >>> sft_pairs([p])
    (['Problem:\\n1+1?\\n\\nSolution:\\n'], ['$\\\\boxed{2}$'])
    """
    template = PromptTemplate() if template is None else template
    prompts = [template.generation_prompt(p.problem) for p in problems]
    return prompts, [p.solution for p in problems]
