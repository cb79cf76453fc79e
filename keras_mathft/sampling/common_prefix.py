"""A prompt prefix common to every problem, prefilled once per call.

When every prompt of a `sample()` call starts with the same tokens (a base
model's few-shot exemplars, a system prompt), prefilling them once saves
`problems - 1` prefills of that prefix. The prompts' prefill then runs in
two stages split at `shared_length(prompts)` tokens:

1. the common prefix into a one-row cache of its own length
   (`DecodePrograms.prefix_fill`), once per call;
2. each prompt's own tokens from that cache, padded to the prompt's
   bucket (continuous schedule, `prefill_prompt_after`) or to the chunk's
   total length (static, the chunk's `prefix_length`).

Exactness. A one-stage prefill of the whole prompt and these two stages
give keys and values that differ in the last bits (measured on the tests'
tiny GPT-2: up to 4.5e-8 in a few hundred cache values on JAX's CPU
compiler, in one case of four on TensorFlow's: XLA's results depend on
the shapes of a call), so sharing the prefix of a one-stage prefill could
change a sampled token now and then. So a call with a common prefix always
prefills in two stages at the same split, whether the first stage is
shared or not (`SamplingConfig(share_common_prefix=False)` runs it once
per prompt prefill, for tests and benchmarks): both run the same
compiled functions on the same values, and the samples are equal bit for
bit. A call without one (fewer than `MIN_SHARED_TOKENS` common tokens, or
one problem) prefills in one stage, as before.

The split is the common prefix rounded down to a multiple of `GRANULE`
tokens, so that calls of one template (a store's shards, whose problems may
share a few more tokens) mostly split at the same point and reuse the same
compiled functions; and it leaves each prompt at least one token of its
own. `MIN_SHARED_TOKENS = 32`: below it the saving (32 tokens of prefill
per problem, under a tenth of a MATH prompt) no longer pays for the
compiles a new split brings (the first stage, and a second stage per
prompt bucket in place of the one-stage prefill), and a chat template's
turn markers (a few tokens) keep the one-stage path.
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
    """The first stage's cache of one call.

    Args:
        programs: the sampler's `DecodePrograms`.
        request: the call's `schedules.Request`: its `prefix_length`
            (0: no common prefix) and `share_common_prefix` (keep the
            cache for the next prompt, or run the first stage again for
            every prompt: the same values, for tests and benchmarks).
    """

    def __init__(self, programs, request):
        length = request.prefix_length
        self.programs = programs
        self.tokens = np.asarray(request.prompts[0][:length], "int32")[None]
        self.length = int(length)
        self.share = request.share_common_prefix
        self.cache = None
        self.prefills = 0

    def get(self):
        """The common prefix's one-row cache, `length` positions long."""
        cache = self.cache
        if cache is None:
            cache = self.programs.prefix_fill(self.length)(self.tokens)
            self.prefills += 1
            if self.share:
                self.cache = cache
        return cache

    def held_bytes(self, bytes_per_row):
        """Bytes the prefix's cache takes beside the rows (memory budget).

        Args:
            bytes_per_row: callable, length -> KV-cache bytes of one row.

        Returns:
            int; 0 without a common prefix.
        """
        return bytes_per_row(self.length) if self.length else 0
