"""What the two decoding schedules share: the request, row sizing, names.

A schedule decides which rows the device decodes together. Each one is an
object with one method, `run(request, counters)`, that yields
`(problem index, sample index, generated token ids)` for every row of the
`Request` as it finishes, and adds to `counters["slot_steps"]` (rows times
decode steps run), `counters["prefills"]` (prompt prefills) and
`counters["prefix_prefills"]` (prefills of the call's common prefix,
`common_prefix`):

- `continuous.ContinuousSchedule`: a fixed pool of row slots, refilled as
  rows finish (continuous batching).
- `static.StaticSchedule`: chunks of prompts decoded until the chunk's
  longest row stops.

Both size their rows with `RowSizing`: prompt lengths and `max_new_tokens`
are rounded up to buckets, and rows are limited by `max_rows_per_chunk`
and an optional KV-cache memory budget.
"""

import dataclasses

import numpy as np
from keras import ops

from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.sampling.arguments import SCHEDULES  # noqa: F401
from keras_mathft.sampling.random_stream import row_keys


@dataclasses.dataclass(frozen=True)
class Request:
    """The settings of one `sample()` call, shared by its rows.

    Attributes:
        prompts: list of int arrays, the tokenized prompts.
        problem_keys: uint32 array, one random-stream key per problem.
        num_samples: int. Samples per problem.
        max_new_tokens: int. Most generated tokens per row.
        temperature: float. 0 is greedy.
        top_p: float. Nucleus mass.
        seed: int. The run's seed.
        choice: tuple `(decoding mode, top_k)` for `DecodePrograms`.
        prefix_length: int. Tokens of the prompts' common prefix that
            their prefill runs as a first stage
            (`common_prefix.shared_length`); 0 for a one-stage prefill.
        share_common_prefix: bool. Run that first stage once per cache
            length (True) or once per prompt prefill (False).
        block_steps: int. Most decode steps between two refills (the
            continuous schedule).
    """

    prompts: list
    problem_keys: np.ndarray
    num_samples: int
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    choice: tuple
    prefix_length: int = 0
    share_common_prefix: bool = True
    block_steps: int = 64

    def keys(self, problems, samples):
        """The random-stream keys of rows.

        Args:
            problems: int array, the rows' problem indices.
            samples: int array, the rows' sample indices.

        Returns:
            A uint32 array, one key per row.
        """
        return row_keys(self.seed, self.problem_keys[problems], samples)

    def scalars(self):
        """Temperature (at least 1e-6) and top-p as float32 tensors.

        Returns:
            A tuple `(temperature, top_p)`.
        """
        return (
            ops.convert_to_tensor(np.float32(max(self.temperature, 1e-6))),
            ops.convert_to_tensor(np.float32(self.top_p)),
        )


class RowSizing:
    """Total lengths and row counts of the decoded batches.

    Args:
        model_max_length: optional int, the model's `max_sequence_length`.
        max_rows_per_chunk: int. Most rows decoded at once.
        memory_budget_bytes: optional int. When set, rows are also limited
            so that their KV cache fits in this many bytes.
        bytes_per_row: callable, total length -> KV-cache bytes of a row.
        share_prefix: bool. Whether a prompt's N rows share its prefill.
    """

    def __init__(
        self,
        model_max_length,
        max_rows_per_chunk,
        memory_budget_bytes,
        bytes_per_row,
        share_prefix,
    ):
        self.model_max_length = model_max_length
        self.max_rows_per_chunk = max_rows_per_chunk
        self.memory_budget_bytes = memory_budget_bytes
        self.bytes_per_row = bytes_per_row
        self.share_prefix = share_prefix

    def total_length(self, prompt_bucket, longest, max_new_tokens):
        """Prompt bucket plus the bucket of `max_new_tokens`, capped.

        Args:
            prompt_bucket: int, the rounded-up prompt length.
            longest: int, the longest real prompt.
            max_new_tokens: int.

        Returns:
            int, the total length of the rows' KV cache.

        Raises:
            ValueError: when `longest + max_new_tokens` exceeds the model.
        """
        total = prompt_bucket + geometric_bucket(max_new_tokens, midpoints=True)
        model_max = self.model_max_length
        if model_max is not None and total > model_max:
            if longest + max_new_tokens > model_max:
                raise ValueError(
                    "Prompt plus `max_new_tokens` exceeds the model's "
                    f"max_sequence_length={model_max}. Received: "
                    f"{longest} + {max_new_tokens} tokens"
                )
            total = model_max
        return total

    def row_budget(self, total_length, held_bytes=0):
        """Most rows decoded at once at total length `total_length`.

        Args:
            total_length: int.
            held_bytes: int. Cache bytes held beside the rows (a common
                prefix's cache), taken from the memory budget.

        Returns:
            int, at least 1.
        """
        budget = self.max_rows_per_chunk
        if self.memory_budget_bytes:
            per_row = self.bytes_per_row(total_length)
            left = self.memory_budget_bytes - held_bytes
            budget = min(budget, max(1, left // per_row))
        return budget

    def chunk_shape(self, num_samples, total_length, held_bytes=0):
        """Prompts and samples per prompt of a static chunk.

        Args:
            num_samples: int. Samples per problem.
            total_length: int.
            held_bytes: int. As for `row_budget`.

        Returns:
            A tuple `(prompts per chunk, samples per prompt)`.
        """
        budget = self.row_budget(total_length, held_bytes)
        if not self.share_prefix:
            return budget, 1
        samples = min(num_samples, budget)
        return max(1, budget // samples), samples


def pow2_at_least(n):
    """The smallest power of two that is at least `n` (1 for n <= 1).

    Args:
        n: int.

    Returns:
        int.
    """
    return 1 << max(0, int(n) - 1).bit_length()
