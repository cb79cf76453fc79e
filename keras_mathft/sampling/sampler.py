"""N-sample decoding with a shared prompt cache over keras-hub causal LMs.

`SolutionSampler` tokenizes the prompts, hands them to its schedule
(`continuous.ContinuousSchedule` or `static.StaticSchedule`, which decide
which rows decode together and when a row ends), turns each finished row
into a `Sample` (`postprocess`) and groups the samples by problem. Its
settings are one `SamplingConfig`; a call returns `SamplerOutput(samples,
stats)`. `sample_solutions` and `greedy_solutions` are the one-call entry
points; `get_sampler` reuses a model's sampler for a config.
(`SCHEDULES` is re-exported from `schedules`.)
"""

import numpy as np
from keras import ops

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.models import families
from keras_mathft.models import sharding
from keras_mathft.sampling.arguments import check_model
from keras_mathft.sampling.common_prefix import shared_length
from keras_mathft.sampling.continuous import ContinuousSchedule
from keras_mathft.sampling.decoding import DecodePrograms
from keras_mathft.sampling.postprocess import PostProcessor
from keras_mathft.sampling.progress import SamplingProgress
from keras_mathft.sampling.sample_record import problem_id
from keras_mathft.sampling.sample_record import problem_key
from keras_mathft.sampling.sample_record import problem_text
from keras_mathft.sampling.sampling_config import SamplerOutput
from keras_mathft.sampling.sampling_config import SamplingStats
from keras_mathft.sampling.sampling_config import resolve_config
from keras_mathft.sampling.schedules import SCHEDULES  # noqa: F401
from keras_mathft.sampling.schedules import Request
from keras_mathft.sampling.schedules import RowSizing
from keras_mathft.sampling.static import StaticSchedule
from keras_mathft.sampling.token_choice import decoding_mode


class SolutionSampler:
    """Draws N solutions per problem, prefilling each prompt once.

    Two schedules (`SamplingConfig.schedule`), with the same samples (up
    to floating-point differences between batch shapes):

    - `"continuous"` (default): a fixed pool of row slots, each row at its
      own position, is decoded in compiled blocks of up to `block_steps`
      steps. After a block, finished rows leave and their slots take the
      next `(problem, sample index)` units. A unit whose prompt no slot
      holds yet is prefilled into its slot; the other samples of that
      problem copy the prefilled cache from a slot that holds it, so each
      prompt is prefilled once. No slot idles until a longer row finishes.
    - `"static"`: chunks of prompts, each prefilled once and its cache
      repeated to its N rows, decoded until the chunk's longest row stops.

    When every prompt of a call starts with the same 32 or more tokens (a
    base model's few-shot exemplars, a system prompt), that common prefix
    is prefilled once per call and each prompt's prefill
    runs only its own tokens from a copy of its cache
    (`common_prefix`), on both schedules (the real-model study's 4-shot
    prompts share their first 331 tokens: 320 of them are prefilled once).
    The samples are bit for bit those of `share_common_prefix=False`.

    Prompt lengths and `max_new_tokens` are rounded up to buckets (8, 12,
    16, 24, 32, 48, ...): the continuous schedule compiles one decode block
    per run and one prefill and copy per prompt bucket, whatever the mix of
    rows; the static one compiles one function per
    `(prompts, samples, prompt_bucket, total_length)`.

    Sampling is float32 Gumbel-max over `logits / temperature` after the
    optional top-k and top-p (nucleus) filters, which never sort the
    vocabulary (`token_choice`). The noise is a counter-based hash of
    `(seed, problem, sample index, position, token)`: the same seed
    reproduces the samples, samples of one problem are independent, and a
    sample does not depend on the schedule, chunk, slot or process that
    drew it.

    The sampler is built for its config's `program_key()` (stop rules,
    schedule, compiled programs). A call may pass another config that
    differs in the draws and the per-call sizes (rows, memory budget,
    block steps, prompt length, common-prefix sharing): it reuses the
    compiled programs. Each call returns its `SamplingStats`: the
    schedule, wall time, generated tokens, `slot_steps` (rows times
    decode steps run), `slot_utilization` (tokens / slot_steps), the
    prompt prefills and, for the common prefix, its length
    `prefix_length` (0: none), its prefills `prefix_prefills`,
    `prefix_tokens_prefilled` (length times prefills) and
    `prefix_tokens_saved` (length times the prompt prefills that reused
    a prefix prefill).

    Args:
        model: a `keras_mathft.models.MathSolver` (its `causal_lm` and
            `prompt_template` are used) or a keras-hub `CausalLM` with a
            preprocessor.
        config: optional `SamplingConfig`, the settings this sampler is
            built for and the default of its calls; `SamplingConfig()` by
            default.
        prompt_template: optional `PromptTemplate`; defaults to the model's
            or to `PromptTemplate()`.

    Raises:
        ValueError: when `model` is not a causal LM with a preprocessor or
            `config` is not a `SamplingConfig`.

    Example:

    >>> config = SamplingConfig(num_samples=4)  # doctest: +SKIP
    >>> sampler = SolutionSampler(causal_lm, config)  # doctest: +SKIP
    >>> samples, stats = sampler.sample(["1+1?"])  # doctest: +SKIP
    >>> len(samples[0]), stats.slot_utilization  # doctest: +SKIP
    (4, 0.97)
    """

    def __init__(self, model, config=None, prompt_template=None):
        self.config = resolve_config(config)
        self.causal_lm = check_model(model)
        self.preprocessor = self.causal_lm.preprocessor
        if prompt_template is None:
            prompt_template = getattr(model, "prompt_template", None)
        self.prompt_template = prompt_template or PromptTemplate()
        tokenizer = self.preprocessor.tokenizer
        stop_token_ids = self.config.stop_token_ids
        if stop_token_ids == "auto":
            stop_token_ids = families.stop_token_ids(self.causal_lm)
        self.stop_token_ids = tuple(int(t) for t in stop_token_ids or ())
        self.postprocess = PostProcessor(
            tokenizer, self.stop_token_ids, self.config.stop_strings
        )
        self.pad_token_id = int(getattr(tokenizer, "pad_token_id", 0) or 0)
        self.programs = DecodePrograms(
            self.causal_lm,
            self.stop_token_ids,
            self.pad_token_id,
            jit_compile=self.config.jit_compile,
            top_p_prefilter=self.config.top_p_prefilter,
        )
        self.sizing = RowSizing(
            getattr(self.causal_lm.backbone, "max_sequence_length", None),
            self.config.max_rows_per_chunk,
            self.config.memory_budget_bytes,
            self.cache_bytes_per_row,
            self.config.share_prefix,
        )
        self.schedule_runner = self._make_schedule()

    def _make_schedule(self):
        share_prefix = self.config.share_prefix
        if self.config.schedule == "continuous":
            return ContinuousSchedule(
                self.programs,
                self.sizing,
                self.pad_token_id,
                share_prefix,
                self.postprocess,
            )
        return StaticSchedule(
            self.programs, self.sizing, self.pad_token_id, share_prefix
        )

    def cache_bytes_per_row(self, length):
        """Bytes of KV cache one row needs at total length `length`."""
        return self.programs.layout.bytes_per_row(length)

    def _call_config(self, config):
        """A call's config, checked against the one this sampler runs."""
        config = self.config if config is None else resolve_config(config)
        if config.program_key() != self.config.program_key():
            raise ValueError(
                "This sampler was built for other stop rules or engine "
                "settings (`SamplingConfig.program_key()`); a call may "
                "change only the draws and the sizes. Use "
                "`get_sampler(model, config)` or a new `SolutionSampler` "
                f"for this config. Received: {config.program_key()}, "
                f"built for: {self.config.program_key()}"
            )
        return config

    # === Host side ===

    def _tokenize(self, prompts, limit=None):
        if limit is None:
            limit = getattr(self.causal_lm.backbone, "max_sequence_length", 0)
            limit = limit or 2**15
        # Pad to the preprocessor's length first and widen only when a
        # prompt is cut: padding every batch to the model's longest
        # context would cost more than the prompts themselves.
        width = getattr(self.preprocessor, "sequence_length", None) or 512
        while True:
            width = min(width, limit + 1)
            out = self.preprocessor.generate_preprocess(
                prompts, sequence_length=width
            )
            mask = np.asarray(ops.convert_to_numpy(out["padding_mask"]))
            lengths = mask.sum(axis=1).astype("int32")
            if not lengths.size or lengths.max() < width or width > limit:
                break
            width *= 2
        if lengths.size and lengths.max() > limit:
            raise ValueError(
                f"A prompt is longer than `max_prompt_length={limit}` tokens; "
                "raise `max_prompt_length` or shorten the problem. "
                f"Received: a prompt of {int(lengths.max())}+ tokens"
            )
        token_ids = np.asarray(ops.convert_to_numpy(out["token_ids"]))
        return [t[:n] for t, n in zip(token_ids, lengths)]

    def _request(self, problems, config):
        texts = [
            self.prompt_template.generation_prompt(problem_text(p))
            for p in problems
        ]
        prompts = self._tokenize(texts, config.max_prompt_length)
        return Request(
            prompts=prompts,
            problem_keys=np.asarray(
                [problem_key(p) for p in problems], np.uint32
            ),
            num_samples=config.num_samples,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=config.seed,
            choice=(
                decoding_mode(config.temperature, config.top_p, config.top_k),
                config.top_k,
            ),
            prefix_length=shared_length(prompts),
            share_common_prefix=config.share_common_prefix,
            block_steps=config.block_steps,
        )

    def sample(self, problems, config=None, verbose=True):
        """Samples `config.num_samples` solutions for each problem.

        Args:
            problems: list of `MathProblem` or problem strings.
            config: optional `SamplingConfig`; this sampler's by default.
                It may differ from `self.config` in the draws and the
                per-call sizes only.
            verbose: bool. Show a progress bar with problems/s, tokens/s
                and slot utilization.

        Returns:
            `SamplerOutput(samples, stats)`: for each problem in order,
            its list of `Sample`s ordered by sample index, and the call's
            `SamplingStats`.

        Raises:
            ValueError: on a config with another `program_key()` or
                prompts that are too long.
        """
        problems = list(problems)
        results = [None] * len(problems)
        stream = self.iter_problems(problems, config, verbose)
        for index, samples in stream:
            results[index] = samples
        return SamplerOutput(results, stream.stats)

    def iter_problems(self, problems, config=None, verbose=True):
        """Like `sample`, but yields each problem as soon as it completes.

        Lets a caller (e.g. a sample store) write finished problems while
        the others are still decoding, so a long run never drains its slots
        for a checkpoint.

        Args:
            Same as `sample`.

        Returns:
            A `SampleStream` of `(problem_index, samples)`, in completion
            order; its `stats` are set once it is exhausted.

        Raises:
            ValueError: on a config with another `program_key()` (here)
                or prompts that are too long (when iterated).
        """
        config = self._call_config(config)
        return SampleStream(self._stream(list(problems), config, verbose))

    def _stream(self, problems, config, verbose):
        """Yields the finished problems; returns the `SamplingStats`."""
        # The sizes of this call: the schedules read them as they run.
        self.sizing.max_rows_per_chunk = config.max_rows_per_chunk
        self.sizing.memory_budget_bytes = config.memory_budget_bytes
        counters = {"slot_steps": 0, "prefills": 0, "prefix_prefills": 0}
        if not problems:
            return self._stats(0.0, 0, 0, counters, 0)
        request = self._request(problems, config)
        ids = [problem_id(p, i) for i, p in enumerate(problems)]
        progress = SamplingProgress(len(problems), verbose)
        num_samples = config.num_samples
        pending = [dict() for _ in problems]
        tokens = 0
        for i, s, generated in self.schedule_runner.run(request, counters):
            sample = self.postprocess.to_sample(ids[i], s, generated)
            pending[i][s] = sample
            tokens += sample.num_tokens
            done = len(pending[i]) == num_samples
            progress.update(done, tokens, counters["slot_steps"])
            if done:
                samples = [pending[i][j] for j in range(num_samples)]
                pending[i] = None
                yield i, samples
        return self._stats(
            progress.elapsed(),
            tokens,
            len(problems),
            counters,
            request.prefix_length,
        )

    def _stats(self, seconds, tokens, problems, counters, prefix_length):
        return SamplingStats.of(
            schedule=self.config.schedule,
            data_parallel=sharding.data_parallel_size(),
            seconds=seconds,
            tokens=tokens,
            problems=problems,
            slot_steps=counters["slot_steps"],
            prefills=counters["prefills"],
            prefix_length=prefix_length,
            prefix_prefills=counters["prefix_prefills"],
        )


class SampleStream:
    """The finished problems of one sampling call, in completion order.

    Iterate it for `(problem_index, samples)` pairs; once it is exhausted,
    `stats` holds the call's `SamplingStats` (None before).

    Args:
        generator: a generator of the pairs that returns the stats.
    """

    def __init__(self, generator):
        self._generator = generator
        self.stats = None

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._generator)
        except StopIteration as stop:
            if stop.value is not None:
                self.stats = stop.value
            raise


def get_sampler(model, config=None, prompt_template=None):
    """A `SolutionSampler` for `model` and `config`, reused when it can be.

    A `MathSolver` keeps one sampler per `config.program_key()` (and
    prompt template) in its `inference_helper`s, dropped on `compile()`
    and `enable_lora()`, so repeated calls reuse the compiled functions;
    configs that differ only in the draws and the per-call sizes share a
    sampler (pass the config to each call). Any other model gets a new
    sampler; keep it to reuse its functions.

    Args:
        model: a `MathSolver` or keras-hub `CausalLM`.
        config: optional `SamplingConfig`; `SamplingConfig()` by default.
        prompt_template: optional `PromptTemplate`, as for
            `SolutionSampler`.

    Returns:
        A `SolutionSampler`.
    """
    config = resolve_config(config)

    def build():
        return SolutionSampler(model, config, prompt_template)

    helper = getattr(model, "inference_helper", None)
    if helper is None:
        return build()
    key = ("sampler", config.program_key())
    if prompt_template is not None:
        key += (prompt_template,)
    return helper(key, build)


def sample_solutions(
    model, problems, config=None, verbose=True, *, prompt_template=None
):
    """Samples N solutions per problem with a shared prompt cache.

    The model's sampler for `config` (`get_sampler`) draws them; see
    `SolutionSampler` for the decoding scheme, and its `sample` for the
    call's statistics too.

    Args:
        model: a `MathSolver` or a keras-hub `CausalLM` with a preprocessor.
        problems: list of `MathProblem` or problem strings.
        config: optional `SamplingConfig` (N, temperature, top-p, ...);
            `SamplingConfig()` (the paper's settings) by default.
        verbose: bool. Progress bar with problems/s and tokens/s.
        prompt_template: optional `PromptTemplate`, as for
            `SolutionSampler`.

    Returns:
        One list of `Sample`s per problem, in input order.

    Example:

    >>> config = SamplingConfig(num_samples=2)  # doctest: +SKIP
    >>> out = sample_solutions(lm, ["1+1?"], config)  # doctest: +SKIP
    >>> len(out[0])  # doctest: +SKIP
    2
    """
    config = resolve_config(config)
    sampler = get_sampler(model, config, prompt_template)
    return sampler.sample(problems, config, verbose).samples


def greedy_solutions(
    model, problems, config=None, verbose=True, *, prompt_template=None
):
    """One greedy solution per problem (pass@1): `config.greedy()`.

    Args:
        model, problems, verbose, prompt_template: as in
            `sample_solutions`.
        config: optional `SamplingConfig`; its draws become greedy (one
            sample, temperature 0), the rest is kept.

    Returns:
        One `Sample` per problem, in input order.
    """
    config = resolve_config(config).greedy()
    out = sample_solutions(
        model, problems, config, verbose, prompt_template=prompt_template
    )
    return [s[0] for s in out]
