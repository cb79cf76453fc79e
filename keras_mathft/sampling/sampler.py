"""N-sample decoding with a shared prompt cache over keras-hub causal LMs."""

import dataclasses

import numpy as np
from keras import ops

from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.models import families
from keras_mathft.models import sharding
from keras_mathft.sampling.decoding import DecodePrograms
from keras_mathft.sampling.decoding import as_int32
from keras_mathft.sampling.postprocess import PostProcessor
from keras_mathft.sampling.progress import SamplingProgress
from keras_mathft.sampling.random_stream import row_keys
from keras_mathft.sampling.sample_record import problem_id
from keras_mathft.sampling.sample_record import problem_key
from keras_mathft.sampling.sample_record import problem_text
from keras_mathft.sampling.scheduler import Copy
from keras_mathft.sampling.scheduler import SlotScheduler
from keras_mathft.sampling.token_choice import decoding_mode

SCHEDULES = ("continuous", "static")


@dataclasses.dataclass(frozen=True)
class _Request:
    """The settings of one `sample()` call, shared by its chunks."""

    prompts: list
    problem_keys: np.ndarray
    num_samples: int
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    choice: tuple

    def keys(self, problems, samples):
        return row_keys(self.seed, self.problem_keys[problems], samples)

    def scalars(self):
        return (
            ops.convert_to_tensor(np.float32(max(self.temperature, 1e-6))),
            ops.convert_to_tensor(np.float32(self.top_p)),
        )


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
    (tokens / slot_steps) and the number of prompt prefills.

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
    ):
        self.causal_lm = getattr(model, "causal_lm", model)
        if not hasattr(self.causal_lm, "call_with_cache"):
            raise ValueError(
                "`model` must be a keras-hub CausalLM (with "
                "`call_with_cache`) or a MathSolver wrapping one. "
                f"Received: {type(model).__name__}"
            )
        self.preprocessor = self.causal_lm.preprocessor
        if self.preprocessor is None:
            raise ValueError(
                "The causal LM needs a preprocessor to tokenize prompts. "
                "Received: a model with `preprocessor=None`"
            )
        if schedule not in SCHEDULES:
            raise ValueError(
                f"`schedule` must be one of {SCHEDULES}. "
                f"Received: schedule={schedule!r}"
            )
        for name, value in (
            ("max_rows_per_chunk", max_rows_per_chunk),
            ("block_steps", block_steps),
            ("top_p_prefilter", top_p_prefilter),
        ):
            if value < 1:
                raise ValueError(
                    f"`{name}` must be at least 1. Received: {value}"
                )
        if prompt_template is None:
            prompt_template = getattr(model, "prompt_template", None)
        self.prompt_template = prompt_template or PromptTemplate()
        self.max_rows_per_chunk = int(max_rows_per_chunk)
        self.memory_budget_bytes = memory_budget_bytes
        self.max_prompt_length = max_prompt_length
        self.share_prefix = share_prefix
        self.schedule = schedule
        self.block_steps = int(block_steps)
        tokenizer = self.preprocessor.tokenizer
        if stop_token_ids == "auto":
            stop_token_ids = families.stop_token_ids(self.causal_lm)
        self.stop_token_ids = tuple(int(t) for t in stop_token_ids or ())
        if isinstance(stop_strings, str) or not all(
            isinstance(x, str) and x for x in stop_strings
        ):
            raise ValueError(
                "`stop_strings` must be a list of non-empty strings. "
                f"Received: stop_strings={stop_strings!r}"
            )
        self.stop_strings = tuple(stop_strings)
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
        self.last_stats = None
        self._pool_shape = (0, 0)  # (rows, total length) compiled so far

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

    def _total_length(self, prompt_bucket, longest, max_new_tokens):
        total = prompt_bucket + geometric_bucket(max_new_tokens, midpoints=True)
        model_max = getattr(
            self.causal_lm.backbone, "max_sequence_length", None
        )
        if model_max is not None and total > model_max:
            if longest + max_new_tokens > model_max:
                raise ValueError(
                    "Prompt plus `max_new_tokens` exceeds the model's "
                    f"max_sequence_length={model_max}. Received: "
                    f"{longest} + {max_new_tokens} tokens"
                )
            total = model_max
        return total

    def _row_budget(self, total_length):
        budget = self.max_rows_per_chunk
        if self.memory_budget_bytes:
            per_row = self.cache_bytes_per_row(total_length)
            budget = min(budget, max(1, self.memory_budget_bytes // per_row))
        return budget

    def _chunk_shape(self, num_samples, total_length):
        budget = self._row_budget(total_length)
        if not self.share_prefix:
            return budget, 1
        samples = min(num_samples, budget)
        return max(1, budget // samples), samples

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
        _check_args(num_samples, temperature, top_p, top_k, max_new_tokens)
        problems = list(problems)
        if not problems:
            self.last_stats = _stats(self.schedule, 0.0, 0, 0, 0, 0)
            return
        texts = [
            self.prompt_template.generation_prompt(problem_text(p))
            for p in problems
        ]
        request = _Request(
            prompts=self._tokenize(texts),
            problem_keys=np.asarray(
                [problem_key(p) for p in problems], np.uint32
            ),
            num_samples=num_samples,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            choice=(decoding_mode(temperature, top_p, top_k), top_k),
        )
        ids = [problem_id(p, i) for i, p in enumerate(problems)]
        run = (
            self._continuous if self.schedule == "continuous" else self._static
        )
        progress = SamplingProgress(len(problems), verbose)
        pending = [dict() for _ in problems]
        counters = {"slot_steps": 0, "prefills": 0}
        tokens = 0
        for i, s, generated in run(request, counters):
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
            counters["slot_steps"],
            counters["prefills"],
        )

    # === Continuous schedule ===

    def _continuous(self, request, counters):
        prompts = request.prompts
        buckets = [geometric_bucket(len(p), midpoints=True) for p in prompts]
        longest = max(len(p) for p in prompts)
        total = self._total_length(
            max(buckets), longest, request.max_new_tokens
        )
        units = [
            (i, s)
            for i in range(len(prompts))
            for s in range(request.num_samples)
        ]
        rows = min(self._row_budget(total), _pow2_at_least(len(units)))
        dp = sharding.data_parallel_size()
        rows = -(-rows // dp) * dp
        # Keep the largest pool seen: a later, smaller call (a store's last
        # shard) reuses the compiled functions.
        seen_rows, seen_total = self._pool_shape
        if seen_total >= total and self._row_budget(seen_total) >= seen_rows:
            rows, total = max(rows, seen_rows), seen_total
        self._pool_shape = (rows, total)
        width = geometric_bucket(request.max_new_tokens, midpoints=True)
        programs = self.programs
        block = programs.decode_block(width, request.choice)
        cache = sharding.distribute_cache(
            programs.layout, programs.layout.zeros(rows, total)
        )
        generated = sharding.distribute_rows(np.zeros((rows, width), "int32"))
        token, position, limit, start = (
            np.zeros(rows, "int32") for _ in range(4)
        )
        keys = np.zeros(rows, np.uint32)
        done = np.ones(rows, bool)
        scheduler = SlotScheduler(rows, units, self.share_prefix)
        temperature, top_p = request.scalars()
        while True:
            refill = scheduler.refill()
            for op in refill.operations:
                if isinstance(op, Copy):
                    fn = programs.copy_slot(buckets[op.problem])
                    cache = fn(cache, *as_int32([op.source, op.target]))
                else:
                    p = prompts[op.problem]
                    row = np.full((1, buckets[op.problem]), self.pad_token_id)
                    row[0, : len(p)] = p
                    fn = programs.prefill_slot(buckets[op.problem])
                    cache = fn(cache, as_int32(row), as_int32(op.slot))
            for slot, (i, s) in refill.assignments:
                n = len(prompts[i])
                token[slot], position[slot] = prompts[i][-1], n - 1
                keys[slot] = request.keys(np.asarray([i]), np.asarray([s]))[0]
                limit[slot] = n + request.max_new_tokens
                start[slot], done[slot] = n, False
            if not scheduler.busy:
                break
            # Return early once a few rows finished, to refill them.
            stop_after = max(1, rows // 32) if scheduler.pending else rows + 1
            state = tuple(
                sharding.distribute_rows(x)
                for x in (token, position, keys, limit, start, done)
            )
            cache, generated, *out = block(
                cache,
                generated,
                state,
                as_int32(self.block_steps),
                as_int32(stop_after),
                temperature,
                top_p,
            )
            token, position, done, steps = (
                np.array(ops.convert_to_numpy(x)) for x in out
            )
            counters["slot_steps"] += int(steps) * rows
            host = None
            if self.stop_strings:
                host = np.asarray(ops.convert_to_numpy(generated))
                for slot in range(rows):
                    n = position[slot] - start[slot] + 1
                    if not done[slot] and self.postprocess.stop_index(
                        host[slot, :n]
                    ):
                        done[slot] = True
            ended = [
                slot
                for slot in range(rows)
                if done[slot] and scheduler.active[slot] is not None
            ]
            if ended and host is None:
                host = np.asarray(ops.convert_to_numpy(generated))
            for slot in ended:
                i, s = scheduler.finish(slot)
                n = position[slot] - start[slot] + 1
                yield i, s, host[slot, :n]
        counters["prefills"] += scheduler.prefills

    # === Static schedule ===

    def _static(self, request, counters):
        prompts = request.prompts
        groups = {}
        for i, p in enumerate(prompts):
            groups.setdefault(
                geometric_bucket(len(p), midpoints=True), []
            ).append(i)
        for prompt_len in sorted(groups):
            longest = max(len(prompts[i]) for i in groups[prompt_len])
            total = self._total_length(
                prompt_len, longest, request.max_new_tokens
            )
            per_chunk, samples = self._chunk_shape(request.num_samples, total)
            units = [
                (i, s)
                for i in groups[prompt_len]
                for s in range(0, request.num_samples, samples)
            ]
            # Fewer units than a full chunk: shrink to a power of two.
            per_chunk = min(per_chunk, _pow2_at_least(len(units)))
            # Under data parallelism every device gets whole prompts.
            dp = sharding.data_parallel_size()
            per_chunk = -(-per_chunk // dp) * dp
            fn = self.programs.static_chunk(samples, total, request.choice)
            for c in range(0, len(units), per_chunk):
                chunk = _Chunk(
                    units[c : c + per_chunk], per_chunk, samples, prompt_len
                )
                counters["prefills"] += (
                    per_chunk if self.share_prefix else per_chunk * samples
                )
                yield from self._run_chunk(fn, chunk, request, counters)

    def _run_chunk(self, fn, chunk, request, counters):
        prompts = request.prompts
        padded = chunk.padded()
        tokens = np.full(
            (chunk.num_prompts, chunk.prompt_len), self.pad_token_id, "int32"
        )
        lengths = np.zeros((chunk.num_prompts,), "int32")
        for r, (i, _) in enumerate(padded):
            tokens[r, : len(prompts[i])] = prompts[i]
            lengths[r] = len(prompts[i])
        problem_idx = np.repeat([i for i, _ in padded], chunk.samples)
        sample_idx = np.concatenate(
            [np.arange(s, s + chunk.samples) for _, s in padded]
        )
        row_lengths = np.repeat(lengths, chunk.samples)
        real = np.zeros((len(padded) * chunk.samples,), bool)
        real[: len(chunk.units) * chunk.samples] = True
        real &= sample_idx < request.num_samples
        new = request.max_new_tokens
        limits = np.where(real, row_lengths + new, row_lengths)
        out, steps = fn(
            sharding.distribute_rows(tokens),
            sharding.distribute_rows(lengths),
            sharding.distribute_rows(request.keys(problem_idx, sample_idx)),
            sharding.distribute_rows(limits.astype("int32")),
            *request.scalars(),
        )
        counters["slot_steps"] += int(ops.convert_to_numpy(steps)) * len(real)
        out = np.asarray(ops.convert_to_numpy(out))
        for r in np.flatnonzero(real):
            n = row_lengths[r]
            yield int(problem_idx[r]), int(sample_idx[r]), out[r, n : n + new]


@dataclasses.dataclass(frozen=True)
class _Chunk:
    """One static chunk: `units` of `(problem, first sample)`."""

    units: list
    num_prompts: int
    samples: int
    prompt_len: int

    def padded(self):
        # Padding repeats a real prompt: same shapes, results dropped.
        extra = self.num_prompts - len(self.units)
        return self.units + [self.units[0]] * extra


def _stats(schedule, seconds, tokens, problems, slot_steps, prefills):
    return {
        "schedule": schedule,
        "data_parallel": sharding.data_parallel_size(),
        "seconds": seconds,
        "tokens": tokens,
        "problems": problems,
        "slot_steps": slot_steps,
        "slot_utilization": tokens / slot_steps if slot_steps else 0.0,
        "prefills": prefills,
    }


def _pow2_at_least(n):
    return 1 << max(0, int(n) - 1).bit_length()


def _check_args(num_samples, temperature, top_p, top_k, max_new_tokens):
    if num_samples < 1:
        raise ValueError(
            f"`num_samples` must be at least 1. Received: {num_samples}"
        )
    if temperature < 0:
        raise ValueError(
            f"`temperature` must be >= 0 (0 is greedy). Received: {temperature}"
        )
    if temperature == 0 and num_samples != 1:
        raise ValueError(
            "Greedy decoding (`temperature=0`) gives one solution per "
            f"problem; set `num_samples=1`. Received: {num_samples}"
        )
    if not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1]. Received: {top_p}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"`top_k` must be None or >= 1. Received: {top_k}")
    if max_new_tokens < 1:
        raise ValueError(
            f"`max_new_tokens` must be at least 1. Received: {max_new_tokens}"
        )


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
