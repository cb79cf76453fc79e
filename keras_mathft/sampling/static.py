"""The static schedule: chunks of prompts, each decoded to its end.

Prompts are grouped by prompt-length bucket. Each chunk of prompts is
prefilled once, its cache repeated to the prompts' N rows, and decoded
until the chunk's longest row stops. One compiled function per
`(prompts, samples, prompt bucket, total length)`. When the call's prompts
share a common prefix (`common_prefix`), a chunk prefills only the
prompts' own tokens from that prefix's cache, prefilled once per call.
"""

import dataclasses
import functools

import numpy as np
from keras import ops

from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.models import sharding
from keras_mathft.sampling.common_prefix import PrefixCaches
from keras_mathft.sampling.schedules import pow2_at_least


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


class StaticSchedule:
    """Static chunks of prompts (see the module docstring).

    Args:
        programs: the sampler's `DecodePrograms`.
        sizing: the sampler's `RowSizing`.
        pad_token_id: int.
        share_prefix: bool. Prefill each prompt once (True) or every row
            (False).
    """

    def __init__(self, programs, sizing, pad_token_id, share_prefix):
        self.programs = programs
        self.sizing = sizing
        self.pad_token_id = pad_token_id
        self.share_prefix = share_prefix

    def run(self, request, counters):
        """Decodes every row of `request`.

        Args:
            request: a `schedules.Request`.
            counters: dict; `"slot_steps"`, `"prefills"` and
                `"prefix_prefills"` are added to.

        Yields:
            `(problem index, sample index, generated token ids)`, chunk by
            chunk.
        """
        prompts = request.prompts
        groups = {}
        for i, p in enumerate(prompts):
            groups.setdefault(
                geometric_bucket(len(p), midpoints=True), []
            ).append(i)
        prefixes = PrefixCaches(self.programs, request)
        for prompt_len in sorted(groups):
            yield from self._run_group(
                request, groups[prompt_len], prompt_len, prefixes, counters
            )
        counters["prefix_prefills"] += prefixes.prefills

    def _run_group(self, request, group, prompt_len, prefixes, counters):
        """Decodes the prompts of one prompt bucket, chunk by chunk."""
        longest = max(len(request.prompts[i]) for i in group)
        total = self.sizing.total_length(
            prompt_len, longest, request.max_new_tokens
        )
        held = prefixes.held_bytes(self.sizing.bytes_per_row)
        per_chunk, samples = self.sizing.chunk_shape(
            request.num_samples, total, held
        )
        units = [
            (i, s)
            for i in group
            for s in range(0, request.num_samples, samples)
        ]
        # Fewer units than a full chunk: shrink to a power of two.
        per_chunk = min(per_chunk, pow2_at_least(len(units)))
        # Under data parallelism every device gets whole prompts.
        dp = sharding.data_parallel_size()
        per_chunk = -(-per_chunk // dp) * dp
        fn = self.programs.static_chunk(
            samples, total, request.choice, prefixes.length
        )
        for c in range(0, len(units), per_chunk):
            chunk = _Chunk(
                units[c : c + per_chunk], per_chunk, samples, prompt_len
            )
            prefills = per_chunk if self.share_prefix else per_chunk * samples
            counters["prefills"] += prefills
            chunk_fn = fn
            if prefixes.length:
                # Each prompt prefill asks for the prefix's cache: kept
                # after the first, or run again when not shared.
                for _ in range(prefills):
                    prefix_cache = prefixes.get()
                chunk_fn = functools.partial(fn, prefix_cache)
            yield from self._run_chunk(chunk_fn, chunk, request, counters)

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
