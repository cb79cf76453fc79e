"""The one record of sampling settings, and what a sampler returns.

`SamplingConfig` holds every setting of a sampling call, in three groups:
the draws (what the samples depend on, stored as a sample store's
settings), where a row ends, and the engine (how the rows are decoded,
which never changes a sample). `SolutionSampler`, `sample_solutions`,
`greedy_solutions` and `sample_to_store` take one and pass it on.
`SamplerOutput` is what `SolutionSampler.sample` returns: the samples and
their `SamplingStats`.

No keras here: stores and their settings load without it.
"""

import dataclasses
import typing

from keras_mathft.sampling.arguments import check_sample_args
from keras_mathft.sampling.arguments import check_sampler_settings
from keras_mathft.sampling.arguments import check_stop_strings

# The draw settings: what the samples depend on (with the problems and
# the model), the keys of a sample store's settings (`meta.json`).
DRAWS = (
    "num_samples",
    "temperature",
    "top_p",
    "top_k",
    "max_new_tokens",
    "seed",
)
# The settings a sampler is built for: its compiled programs, its stop
# rules and its schedule object. The other settings apply per call.
PROGRAM = (
    "stop_token_ids",
    "stop_strings",
    "schedule",
    "share_prefix",
    "top_p_prefilter",
    "jit_compile",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplingConfig:
    """Every setting of drawing N solutions per problem (frozen, hashable).

    Defaults follow the paper (N = 64, temperature 0.9, top-p 0.95; the
    last two reported by a third-party note). Bad values raise
    `ValueError` at construction, naming the setting and the value.

    Three groups of settings:

    - Draws (`draws()`): the samples depend only on these, the problems
      and the model. A sample store records them and refuses to resume
      with others.
    - Where a row ends: stop tokens and stop strings. They decide the
      samples too, and a sampler is built for them.
    - Engine: the schedule and the sizes of the decoded batches. The same
      samples whatever they are (up to floating-point differences between
      batch shapes). `schedule`, `share_prefix`, `top_p_prefilter` and
      `jit_compile` decide a sampler's compiled programs
      (`program_key()`); `max_rows_per_chunk`, `memory_budget_bytes`,
      `block_steps`, `max_prompt_length` and `share_common_prefix` apply
      to each call, so one sampler serves any of their values.

    Args:
        num_samples: int, at least 1. Solutions per problem (N); exactly
            1 when greedy.
        temperature: float, at least 0. Softmax temperature; 0 is greedy
            decoding (pass@1).
        top_p: float in (0, 1]. Nucleus sampling mass; 1 disables it.
        top_k: None or int, at least 1. Keep only the k most likely
            tokens.
        max_new_tokens: int, at least 1. Most tokens generated per
            solution.
        seed: int. Same seed and backend, same samples.
        stop_token_ids: "auto" (`models.families.stop_token_ids`: end of
            text and the family's end of turn, e.g. Gemma's `<eos>` and
            `<end_of_turn>`), None (never stop early) or a sequence of
            token ids.
        stop_strings: sequence of non-empty str. A row also ends once its
            text contains one of them (a few-shot prompt's next
            `"\\n\\nProblem:"`, say); the text is cut before it. Checked on
            the host between decode blocks, so a smaller `block_steps`
            wastes fewer steps.
        schedule: `"continuous"` (a pool of row slots refilled as rows
            finish) or `"static"` (chunks decoded until their longest row
            stops); see `SolutionSampler`.
        max_rows_per_chunk: int, at least 1. Most rows decoded at once
            (the slots of the continuous schedule).
        memory_budget_bytes: optional int. When set, rows are also limited
            so that their KV cache fits in this many bytes.
        block_steps: int, at least 1. Most decode steps between two
            refills of the continuous schedule.
        top_p_prefilter: int, at least 1. Top-p looks for each row's
            nucleus among this many most likely tokens before searching
            the whole vocabulary.
        max_prompt_length: optional int. Longest prompt in tokens; longer
            prompts raise. By default any prompt that leaves room for
            `max_new_tokens` within the model's `max_sequence_length`.
        share_prefix: bool. Prefill each prompt once and share its cache
            with its N rows (True), or prefill every row (False; for tests
            and benchmarks).
        share_common_prefix: bool. Prefill the prompts' common prefix
            (few-shot exemplars) once per call (True), or once per prompt
            prefill (False; the same samples, for tests and benchmarks).
        jit_compile: bool. XLA-compile on TensorFlow.

    Raises:
        ValueError: on an out-of-range setting, stop strings that are not
            a list of non-empty strings, or an unknown schedule.

    Example:

    >>> config = SamplingConfig(num_samples=8, temperature=0.7, seed=3)
    >>> config.draws()["num_samples"], config.greedy().temperature
    (8, 0.0)
    >>> config.replace(seed=4).program_key() == config.program_key()
    True
    >>> SamplingConfig(stop_strings=["Problem:"]).stop_strings
    ('Problem:',)
    >>> SamplingConfig(num_samples=2, temperature=0)
    Traceback (most recent call last):
    ...
    ValueError: Greedy decoding (`temperature=0`) gives one solution per \
problem; set `num_samples=1`. Received: 2
    """

    # Draws.
    num_samples: int = 64
    temperature: float = 0.9
    top_p: float = 0.95
    top_k: int | None = None
    max_new_tokens: int = 256
    seed: int = 0
    # Where a row ends.
    stop_token_ids: str | tuple | None = "auto"
    stop_strings: tuple = ()
    # Engine.
    schedule: str = "continuous"
    max_rows_per_chunk: int = 256
    memory_budget_bytes: int | None = None
    block_steps: int = 64
    top_p_prefilter: int = 128
    max_prompt_length: int | None = None
    share_prefix: bool = True
    share_common_prefix: bool = True
    jit_compile: bool = True

    def __post_init__(self):
        check_sample_args(
            self.num_samples,
            self.temperature,
            self.top_p,
            self.top_k,
            self.max_new_tokens,
        )
        check_sampler_settings(
            self.schedule,
            self.max_rows_per_chunk,
            self.block_steps,
            self.top_p_prefilter,
        )
        # Tuples, so that the config hashes.
        set_field = object.__setattr__
        set_field(self, "stop_strings", check_stop_strings(self.stop_strings))
        set_field(self, "stop_token_ids", _stop_tokens(self.stop_token_ids))

    def draws(self):
        """The draw settings: what a sample store records.

        Returns:
            A dict with `num_samples`, `temperature`, `top_p`, `top_k`,
            `max_new_tokens` and `seed`.
        """
        return {name: getattr(self, name) for name in DRAWS}

    def program_key(self):
        """What a sampler is built for: equal keys share a sampler.

        Returns:
            A hashable tuple of `stop_token_ids`, `stop_strings`,
            `schedule`, `share_prefix`, `top_p_prefilter` and
            `jit_compile`.
        """
        return tuple(getattr(self, name) for name in PROGRAM)

    def greedy(self):
        """This config for greedy decoding: one sample, temperature 0."""
        return self.replace(num_samples=1, temperature=0.0)

    def replace(self, **changes):
        """A copy with `changes` applied (and checked)."""
        return dataclasses.replace(self, **changes)


def resolve_config(config):
    """`config`, or `SamplingConfig()` for None.

    Raises:
        ValueError: when `config` is neither None nor a `SamplingConfig`.
    """
    if config is None:
        return SamplingConfig()
    if not isinstance(config, SamplingConfig):
        raise ValueError(
            "`config` must be a `SamplingConfig` (or None for the "
            f"defaults). Received: {type(config).__name__} {config!r}"
        )
    return config


def _stop_tokens(stop_token_ids):
    if stop_token_ids is None or stop_token_ids == "auto":
        return stop_token_ids
    if isinstance(stop_token_ids, str):
        raise ValueError(
            '`stop_token_ids` must be "auto", None or a list of token '
            f"ids. Received: stop_token_ids={stop_token_ids!r}"
        )
    return tuple(int(t) for t in stop_token_ids)


@dataclasses.dataclass(frozen=True)
class SamplingStats:
    """What one sampling call did.

    Attributes:
        schedule: str, the schedule that ran.
        data_parallel: int, devices the rows were sharded over.
        seconds: float, wall time.
        tokens: int, generated tokens.
        problems: int, problems sampled.
        slot_steps: int, rows times decode steps run.
        slot_utilization: float, `tokens / slot_steps` (0 without steps).
        prefills: int, prompt prefills.
        prefix_length: int, tokens of the prompts' common prefix
            (`common_prefix`; 0: none).
        prefix_prefills: int, prefills of that prefix.
        prefix_tokens_prefilled: int, its length times its prefills.
        prefix_tokens_saved: int, its length times the prompt prefills
            that reused a prefix prefill.

    Example:

    >>> SamplingStats.of("static", 1, 2.0, 30, 3, 40, 3).slot_utilization
    0.75
    """

    schedule: str
    data_parallel: int
    seconds: float
    tokens: int
    problems: int
    slot_steps: int
    slot_utilization: float
    prefills: int
    prefix_length: int
    prefix_prefills: int
    prefix_tokens_prefilled: int
    prefix_tokens_saved: int

    @classmethod
    def of(
        cls,
        schedule,
        data_parallel,
        seconds,
        tokens,
        problems,
        slot_steps,
        prefills,
        prefix_length=0,
        prefix_prefills=0,
    ):
        """The stats of a call from its counts (the ratios computed)."""
        saved = prefix_length * (prefills - prefix_prefills)
        return cls(
            schedule=schedule,
            data_parallel=data_parallel,
            seconds=seconds,
            tokens=tokens,
            problems=problems,
            slot_steps=slot_steps,
            slot_utilization=tokens / slot_steps if slot_steps else 0.0,
            prefills=prefills,
            prefix_length=prefix_length,
            prefix_prefills=prefix_prefills,
            prefix_tokens_prefilled=prefix_length * prefix_prefills,
            prefix_tokens_saved=saved if prefix_length else 0,
        )

    def as_dict(self):
        """The fields as a dict (JSON-ready)."""
        return dataclasses.asdict(self)


class SamplerOutput(typing.NamedTuple):
    """What `SolutionSampler.sample` returns.

    Attributes:
        samples: for each problem in order, its list of `Sample`s ordered
            by sample index.
        stats: the call's `SamplingStats`.
    """

    samples: list
    stats: SamplingStats
