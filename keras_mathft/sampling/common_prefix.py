"""A prompt prefix common to every problem, prefilled once per call.

When every prompt of a `sample()` call starts with the same tokens (a base
model's few-shot exemplars, a system prompt), prefilling them once saves
`problems - 1` prefills of that prefix. The prompts' prefill then runs in
two stages split at `shared_length(prompts)` tokens:

1. the common prefix into a one-row cache (`DecodePrograms.prefix_fill`),
   once per cache length (a prompt bucket of the continuous schedule, a
   chunk's total length of the static one);
2. each prompt's own tokens from that cache (`prefill_slot_after`, or the
   static chunk's `prefix_length`).

Exactness. On XLA's CPU compiler a one-stage prefill of the whole prompt
and the two stages give keys and values that differ in the last bits (the
matmuls' results depend on how many positions a call holds), so sharing
the prefix of a one-stage prefill would change a sample now and then. So a
call with a common prefix always prefills in two stages at the same split,
whether the first stage is shared or not (`SolutionSampler(...,
share_common_prefix=False)` runs it once per prompt, for tests and
benchmarks): sharing is exact by construction, the samples equal bit for
bit. A call without one (fewer than `MIN_SHARED_TOKENS` common tokens, or
one problem) prefills in one stage, as before.

The split is the common prefix rounded down to a multiple of `GRANULE`
tokens, so that calls of one template (a store's shards, whose problems may
share a few more tokens) mostly split at the same point and reuse the same
compiled functions; and it leaves each prompt at least one token of its
own. `MIN_SHARED_TOKENS = 32`: below it the saving (32 tokens of prefill
per problem, under a tenth of a MATH prompt) no longer pays for the two
extra compiled functions per prompt bucket, and a chat template's turn
markers (a few tokens) keep the one-stage path.
"""

import numpy as np

MIN_SHARED_TOKENS = 32
GRANULE = 16


def shared_length(prompts):
    """Tokens of the prompts' common prefix prefilled as a first stage.

    Args:
        prompts: list of int arrays, the tokenized prompts.

    Returns:
        int: the common prefix rounded down to a multiple of `GRANULE`,
        at most the shortest prompt's length minus one; 0 when that is
        under `MIN_SHARED_TOKENS` or there are fewer than two prompts.

    Example:

    >>> shared_length([list(range(40)) + [1], list(range(40)) + [2]])
    32
    >>> shared_length([list(range(40))])
    0
    """
    if len(prompts) < 2:
        return 0
    common = min(len(p) for p in prompts) - 1
    first = np.asarray(prompts[0][:common])
    for prompt in prompts[1:]:
        differ = np.flatnonzero(np.asarray(prompt[:common]) != first[:common])
        if differ.size:
            common = int(differ[0])
    length = common // GRANULE * GRANULE
    return length if length >= MIN_SHARED_TOKENS else 0


class PrefixCaches:
    """The first stage's caches of one call, one per cache length.

    Args:
        programs: the sampler's `DecodePrograms`.
        request: the call's `schedules.Request`: its `prefix_length`
            (0: no common prefix) and `share_common_prefix` (keep each
            cache for the next prompt, or run the first stage again for
            every prompt: the same values, for tests and benchmarks).
    """

    def __init__(self, programs, request):
        length = request.prefix_length
        self.programs = programs
        self.tokens = np.asarray(request.prompts[0][:length], "int32")[None]
        self.length = int(length)
        self.share = request.share_common_prefix
        self.caches = {}
        self.prefills = 0

    def get(self, cache_length):
        """The common prefix's cache, `cache_length` positions long."""
        cache = self.caches.get(cache_length)
        if cache is None:
            fn = self.programs.prefix_fill(cache_length, self.length)
            cache = fn(self.tokens)
            self.prefills += 1
            if self.share:
                self.caches[cache_length] = cache
        return cache

    def held_bytes(self, bytes_per_row, cache_lengths):
        """Bytes the kept caches of `cache_lengths` take (memory budget).

        Args:
            bytes_per_row: callable, length -> KV-cache bytes of one row.
            cache_lengths: iterable of the cache lengths the call uses.

        Returns:
            int; 0 without a shared prefix.
        """
        if not self.length:
            return 0
        lengths = set(cache_lengths)
        if not self.share:  # one cache at a time, the longest
            lengths = {max(lengths)}
        return sum(bytes_per_row(n) for n in lengths)
