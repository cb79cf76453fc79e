"""N-sample decoding with a shared prompt cache over keras-hub causal LMs.

`SolutionSampler` tokenizes the prompts, hands them to its schedule
(`continuous.ContinuousSchedule` or `static.StaticSchedule`, which decide
which rows decode together and when a row ends), turns each finished row
into a `Sample` (`postprocess`) and groups the samples by problem.
`sample_solutions` and `greedy_solutions` are the one-call entry points;
`get_sampler` reuses a model's sampler. (`SCHEDULES` is re-exported from
`schedules`.)
"""

import numpy as np
from keras import ops

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.models import families
from keras_mathft.models import sharding
from keras_mathft.sampling.arguments import check_model
from keras_mathft.sampling.arguments import check_sample_args
from keras_mathft.sampling.arguments import check_sampler_settings
from keras_mathft.sampling.arguments import check_stop_strings
from keras_mathft.sampling.common_prefix import shared_length
from keras_mathft.sampling.continuous import ContinuousSchedule
from keras_mathft.sampling.decoding import DecodePrograms
from keras_mathft.sampling.postprocess import PostProcessor
from keras_mathft.sampling.progress import SamplingProgress
from keras_mathft.sampling.sample_record import problem_id
from keras_mathft.sampling.sample_record import problem_key
from keras_mathft.sampling.sample_record import problem_text
from keras_mathft.sampling.schedules import SCHEDULES  # noqa: F401
from keras_mathft.sampling.schedules import Request
from keras_mathft.sampling.schedules import RowSizing
from keras_mathft.sampling.static import StaticSchedule
from keras_mathft.sampling.token_choice import decoding_mode


class SolutionSampler:
    """Draws N solutions per problem, prefilling each prompt once.

    Two schedules, with the same samples (up to floating-point differences
    between batch shapes):

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

    After `sample()`, `last_stats` holds the schedule, wall time, generated
    tokens, `slot_steps` (rows times decode steps run), `slot_utilization`
    (tokens / slot_steps), the number of prompt prefills and, for the
    common prefix, its length `prefix_length` (0: none), its prefills
    `prefix_prefills`, `prefix_tokens_prefilled` (length times prefills)
    and `prefix_tokens_saved` (length times the prompt prefills that
    reused a prefix prefill).

    Args:
        model: a `keras_mathft.models.MathSolver` (its `causal_lm` and
            `prompt_template` are used) or a keras-hub `CausalLM` with a
            preprocessor.
        prompt_template: optional `PromptTemplate`; defaults to the model's
            or to `PromptTemplate()`.
        max_rows_per_chunk: int. Most rows decoded at once (the slots of
            the continuous schedule).
        memory_budget_bytes: optional int. When set, rows are also limited
            so that their KV cache fits in this many bytes.
        max_prompt_length: optional int. Longest prompt in tokens; longer
            prompts raise. By default any prompt that leaves room for
            `max_new_tokens` within the model's `max_sequence_length`.
        share_prefix: bool. Prefill each prompt once and share its cache
            (True), or prefill every row (False; for tests and benchmarks).
        share_common_prefix: bool. Prefill the prompts' common prefix once
            per call (True), or once per prompt prefill (False; the same
            samples, for tests and benchmarks). Read on every call.
        stop_token_ids: "auto" (`models.families.stop_token_ids`: end of
            text and the family's end of turn, e.g. Gemma's `<eos>` and
            `<end_of_turn>`), None
            (never stop early) or a sequence of token ids.
        stop_strings: sequence of str. A row also ends once its text
            contains one of them (a few-shot prompt's next `"\n\nProblem:"`,
            say); the text is cut before it. Checked on the host between
            decode blocks, so a smaller `block_steps` wastes fewer steps.
        jit_compile: bool. XLA-compile on TensorFlow.
        schedule: `"continuous"` or `"static"`.
        block_steps: int. Most decode steps between two refills.
        top_p_prefilter: int. Top-p looks for each row's nucleus among this
            many most likely tokens before searching the whole vocabulary.

    Example:

    >>> sampler = SolutionSampler(causal_lm)  # doctest: +SKIP
    >>> samples = sampler.sample(["1+1?"], num_samples=4)  # doctest: +SKIP
    >>> sampler.last_stats["slot_utilization"]  # doctest: +SKIP
    0.97
    """

    def __init__(
        self,
        model,
        prompt_template=None,
        max_rows_per_chunk=256,
        memory_budget_bytes=None,
        max_prompt_length=None,
        share_prefix=True,
        stop_token_ids="auto",
        stop_strings=(),
        jit_compile=True,
        schedule="continuous",
        block_steps=64,
        top_p_prefilter=128,
        share_common_prefix=True,
    ):
        self.causal_lm = check_model(model)
        self.preprocessor = self.causal_lm.preprocessor
        check_sampler_settings(
            schedule, max_rows_per_chunk, block_steps, top_p_prefilter
        )
        if prompt_template is None:
            prompt_template = getattr(model, "prompt_template", None)
        self.prompt_template = prompt_template or PromptTemplate()
        self.max_prompt_length = max_prompt_length
        self.share_prefix = share_prefix
        self.share_common_prefix = bool(share_common_prefix)
        self.schedule = schedule
        self.block_steps = int(block_steps)
        tokenizer = self.preprocessor.tokenizer
        if stop_token_ids == "auto":
            stop_token_ids = families.stop_token_ids(self.causal_lm)
        self.stop_token_ids = tuple(int(t) for t in stop_token_ids or ())
        self.stop_strings = check_stop_strings(stop_strings)
        self.postprocess = PostProcessor(
            tokenizer, self.stop_token_ids, self.stop_strings
        )
        self.pad_token_id = int(getattr(tokenizer, "pad_token_id", 0) or 0)
        self.programs = DecodePrograms(
            self.causal_lm,
            self.stop_token_ids,
            self.pad_token_id,
            jit_compile=jit_compile,
            top_p_prefilter=top_p_prefilter,
        )
        self.sizing = RowSizing(
            getattr(self.causal_lm.backbone, "max_sequence_length", None),
            int(max_rows_per_chunk),
            memory_budget_bytes,
            self.cache_bytes_per_row,
            share_prefix,
        )
        self.schedule_runner = self._make_schedule()
        self.last_stats = None

    def _make_schedule(self):
        if self.schedule == "continuous":
            return ContinuousSchedule(
                self.programs,
                self.sizing,
                self.pad_token_id,
                self.share_prefix,
                self.block_steps,
                self.postprocess,
            )
        return StaticSchedule(
            self.programs, self.sizing, self.pad_token_id, self.share_prefix
        )

    # The row limits live in `sizing`, which the schedules read on every
    # call: setting them on a built sampler still takes effect.
    @property
    def max_rows_per_chunk(self):
        """Most rows decoded at once."""
        return self.sizing.max_rows_per_chunk

    @max_rows_per_chunk.setter
    def max_rows_per_chunk(self, value):
        self.sizing.max_rows_per_chunk = int(value)

    @property
    def memory_budget_bytes(self):
        """Optional bytes the decoded rows' KV cache may take."""
        return self.sizing.memory_budget_bytes

    @memory_budget_bytes.setter
    def memory_budget_bytes(self, value):
        self.sizing.memory_budget_bytes = value

    def cache_bytes_per_row(self, length):
        """Bytes of KV cache one row needs at total length `length`."""
        return self.programs.layout.bytes_per_row(length)

    # === Host side ===

    def _tokenize(self, prompts):
        limit = self.max_prompt_length
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

    def _request(self, problems, num_samples, max_new_tokens, choice, seed):
        temperature, top_p, top_k = choice
        texts = [
            self.prompt_template.generation_prompt(problem_text(p))
            for p in problems
        ]
        prompts = self._tokenize(texts)
        return Request(
            prompts=prompts,
            problem_keys=np.asarray(
                [problem_key(p) for p in problems], np.uint32
            ),
            num_samples=num_samples,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            choice=(decoding_mode(temperature, top_p, top_k), top_k),
            prefix_length=shared_length(prompts),
            share_common_prefix=self.share_common_prefix,
        )

    def sample(
        self,
        problems,
        num_samples=64,
        temperature=0.9,
        top_p=0.95,
        top_k=None,
        max_new_tokens=256,
        seed=0,
        verbose=True,
    ):
        """Samples `num_samples` solutions for each problem.

        Args:
            problems: list of `MathProblem` or problem strings.
            num_samples: int. Solutions per problem (N).
            temperature: float. Softmax temperature; 0 means greedy decoding
                (then `num_samples` must be 1).
            top_p: float in (0, 1]. Nucleus sampling mass; 1 disables it.
            top_k: optional int. Keep only the k most likely tokens.
            max_new_tokens: int. Most tokens generated per solution.
            seed: int. Same seed, same samples (on the same backend).
            verbose: bool. Show a progress bar with problems/s, tokens/s
                and slot utilization.

        Returns:
            A list with, for each problem in order, its list of `Sample`s
            ordered by sample index.

        Raises:
            ValueError: on out-of-range arguments or prompts that are too
                long.
        """
        problems = list(problems)
        results = [[None] * num_samples for _ in problems]
        for index, samples in self.iter_problems(
            problems,
            num_samples=num_samples,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            max_new_tokens=max_new_tokens,
            seed=seed,
            verbose=verbose,
        ):
            results[index] = samples
        return results

    def iter_problems(
        self,
        problems,
        num_samples=64,
        temperature=0.9,
        top_p=0.95,
        top_k=None,
        max_new_tokens=256,
        seed=0,
        verbose=True,
    ):
        """Like `sample`, but yields each problem as soon as it completes.

        Lets a caller (e.g. a sample store) write finished problems while
        the others are still decoding, so a long run never drains its slots
        for a checkpoint.

        Args:
            Same as `sample`.

        Yields:
            `(problem_index, samples)`, in completion order.
        """
        check_sample_args(
            num_samples, temperature, top_p, top_k, max_new_tokens
        )
        problems = list(problems)
        counters = {"slot_steps": 0, "prefills": 0, "prefix_prefills": 0}
        if not problems:
            self.last_stats = _stats(self.schedule, 0.0, 0, 0, counters, 0)
            return
        request = self._request(
            problems,
            num_samples,
            max_new_tokens,
            (temperature, top_p, top_k),
            seed,
        )
        ids = [problem_id(p, i) for i, p in enumerate(problems)]
        progress = SamplingProgress(len(problems), verbose)
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
        self.last_stats = _stats(
            self.schedule,
            progress.elapsed(),
            tokens,
            len(problems),
            counters,
            request.prefix_length,
        )


def _stats(schedule, seconds, tokens, problems, counters, prefix_length):
    slot_steps, prefills = counters["slot_steps"], counters["prefills"]
    prefix_prefills = counters["prefix_prefills"]
    return {
        "schedule": schedule,
        "data_parallel": sharding.data_parallel_size(),
        "seconds": seconds,
        "tokens": tokens,
        "problems": problems,
        "slot_steps": slot_steps,
        "slot_utilization": tokens / slot_steps if slot_steps else 0.0,
        "prefills": prefills,
        "prefix_length": prefix_length,
        "prefix_prefills": prefix_prefills,
        "prefix_tokens_prefilled": prefix_length * prefix_prefills,
        "prefix_tokens_saved": (
            prefix_length * (prefills - prefix_prefills) if prefix_length else 0
        ),
    }


def get_sampler(model, **kwargs):
    """A `SolutionSampler` for `model`, reused when the model owns it.

    A `MathSolver` keeps one sampler per setting (`inference_helper`) and
    drops them on `compile()` and `enable_lora()`, so repeated calls reuse
    the compiled functions. Any other model gets a new sampler; keep it to
    reuse its functions.

    Args:
        model: a `MathSolver` or keras-hub `CausalLM`.
        **kwargs: `SolutionSampler` arguments.

    Returns:
        A `SolutionSampler`.
    """
    helper = getattr(model, "inference_helper", None)
    if helper is None:
        return SolutionSampler(model, **kwargs)
    key = ("sampler", repr(sorted(kwargs.items())))
    return helper(key, lambda: SolutionSampler(model, **kwargs))


def sample_solutions(
    model,
    problems,
    num_samples=64,
    temperature=0.9,
    top_p=0.95,
    top_k=None,
    max_new_tokens=256,
    seed=0,
    verbose=True,
    **sampler_kwargs,
):
    """Samples N solutions per problem with a shared prompt cache.

    Defaults follow the paper (N = 64, temperature 0.9, top-p 0.95; the last
    two reported by a third-party note). `temperature=0` is greedy decoding
    for pass@1. See `SolutionSampler` for the decoding scheme and
    `sampler_kwargs` (schedule, rows, memory budget, prefix sharing).

    Args:
        model: a `MathSolver` or a keras-hub `CausalLM` with a preprocessor.
        problems: list of `MathProblem` or problem strings.
        num_samples: int. N, solutions per problem.
        temperature: float. 0 for greedy decoding.
        top_p: float in (0, 1]. Nucleus mass; 1 disables it.
        top_k: optional int. Top-k filter.
        max_new_tokens: int. Most generated tokens per solution.
        seed: int. Same seed and backend, same samples.
        verbose: bool. Progress bar with problems/s and tokens/s.
        **sampler_kwargs: passed to `SolutionSampler`.

    Returns:
        One list of `Sample`s per problem, in input order.

    Example:

    >>> out = sample_solutions(lm, ["1+1?"], num_samples=2)  # doctest: +SKIP
    >>> len(out[0])  # doctest: +SKIP
    2
    """
    sampler = get_sampler(model, **sampler_kwargs)
    return sampler.sample(
        problems,
        num_samples=num_samples,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        max_new_tokens=max_new_tokens,
        seed=seed,
        verbose=verbose,
    )


def greedy_solutions(model, problems, max_new_tokens=256, **kwargs):
    """One greedy solution per problem (pass@1); see `sample_solutions`."""
    out = sample_solutions(
        model,
        problems,
        num_samples=1,
        temperature=0.0,
        max_new_tokens=max_new_tokens,
        **kwargs,
    )
    return [s[0] for s in out]
