"""The continuous schedule: a pool of row slots, refilled as rows finish.

A fixed pool of row slots, each row at its own position, is decoded in
compiled blocks of up to `block_steps` steps. After a block, the rows that
ended (a stop token or their length limit, seen on the device; a stop
string, seen here on the host) leave, and their slots take the next
`(problem, sample index)` units from a `SlotScheduler`. A unit whose
prompt no slot holds yet is prefilled into its slot; the other samples of
that problem copy the prefilled cache from a slot that holds it, so each
prompt is prefilled once. When the call's prompts share a common prefix
(`common_prefix`), a prefill runs only the prompt's own tokens from that
prefix's cache, prefilled once per call.

Once every unit is dispatched, the pool shrinks to the power of two
below it (`_shrink`, down to `MIN_POOL_ROWS`) whenever that holds the
rows still decoding, gathering them: the tail of a call no longer pays
for finished rows.

`ContinuousSchedule.run` is the loop: `_refill` fills free slots,
`_decode` runs one block, `_finished_rows` ends rows and yields them,
`_shrink` shrinks a draining pool.
"""

import dataclasses

import numpy as np
from keras import ops

from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.models import sharding
from keras_mathft.sampling.common_prefix import PrefixCaches
from keras_mathft.sampling.decoding import as_int32
from keras_mathft.sampling.scheduler import Copy
from keras_mathft.sampling.scheduler import SlotScheduler
from keras_mathft.sampling.schedules import pow2_at_least

# A draining pool shrinks down to this many rows; below, a step's fixed
# costs outweigh its rows' compute, and each size compiles its own block.
MIN_POOL_ROWS = 8


@dataclasses.dataclass
class _Pool:
    """The device cache and generated ids, and each slot's row state."""

    cache: object
    generated: object
    token: np.ndarray
    position: np.ndarray
    keys: np.ndarray
    limit: np.ndarray
    start: np.ndarray
    done: np.ndarray

    @classmethod
    def empty(cls, layout, rows, total, width):
        cache = sharding.distribute_cache(layout, layout.zeros(rows, total))
        generated = sharding.distribute_rows(np.zeros((rows, width), "int32"))
        token, position, limit, start = (
            np.zeros(rows, "int32") for _ in range(4)
        )
        keys = np.zeros(rows, np.uint32)
        done = np.ones(rows, bool)
        return cls(cache, generated, token, position, keys, limit, start, done)

    @property
    def rows(self):
        return len(self.done)

    def state(self):
        return tuple(
            sharding.distribute_rows(x)
            for x in (
                self.token,
                self.position,
                self.keys,
                self.limit,
                self.start,
                self.done,
            )
        )

    def keep(self, slots):
        """Keeps the host state of `slots`, in order (a smaller pool)."""
        for name in ("token", "position", "keys", "limit", "start", "done"):
            setattr(self, name, getattr(self, name)[slots])

    def length(self, slot):
        """Tokens generated so far by `slot`'s row."""
        return self.position[slot] - self.start[slot] + 1


class ContinuousSchedule:
    """Continuous batching over a pool of slots (see the module docstring).

    The pool keeps the largest shape seen, so a later, smaller call (a
    store's last shard) reuses the compiled functions.

    Args:
        programs: the sampler's `DecodePrograms`.
        sizing: the sampler's `RowSizing`.
        pad_token_id: int.
        share_prefix: bool. Copy a prompt's cache between slots (True) or
            prefill every row (False).
        postprocess: the sampler's `PostProcessor`, for stop strings.
    """

    def __init__(
        self,
        programs,
        sizing,
        pad_token_id,
        share_prefix,
        postprocess,
    ):
        self.programs = programs
        self.sizing = sizing
        self.pad_token_id = pad_token_id
        self.share_prefix = share_prefix
        self.postprocess = postprocess
        self.pool_shape = (0, 0)  # (rows, total length) compiled so far

    def run(self, request, counters):
        """Decodes every row of `request`.

        Args:
            request: a `schedules.Request`.
            counters: dict; `"slot_steps"`, `"prefills"` and
                `"prefix_prefills"` are added to.

        Yields:
            `(problem index, sample index, generated token ids)`, in the
            order the rows finish.
        """
        prompts = request.prompts
        buckets = [geometric_bucket(len(p), midpoints=True) for p in prompts]
        units = [
            (i, s)
            for i in range(len(prompts))
            for s in range(request.num_samples)
        ]
        prefixes = PrefixCaches(self.programs, request)
        held = prefixes.held_bytes(self.sizing.bytes_per_row)
        rows, total = self._pool_size(request, buckets, len(units), held)
        width = geometric_bucket(request.max_new_tokens, midpoints=True)
        block = self.programs.decode_block(width, request.choice)
        pool = _Pool.empty(self.programs.pool_layout, rows, total, width)
        scheduler = SlotScheduler(rows, units, self.share_prefix)
        # The block's most steps, temperature and top-p.
        scalars = (as_int32(request.block_steps), *request.scalars())
        while True:
            refill = scheduler.refill()
            self._refill(pool, refill, request, buckets, prefixes)
            if not scheduler.busy:
                break
            self._decode(pool, block, scheduler, scalars, counters)
            yield from self._finished_rows(pool, scheduler)
            self._shrink(pool, scheduler)
        counters["prefills"] += scheduler.prefills
        counters["prefix_prefills"] += prefixes.prefills

    def _pool_size(self, request, buckets, num_units, held_bytes):
        longest = max(len(p) for p in request.prompts)
        total = self.sizing.total_length(
            max(buckets), longest, request.max_new_tokens
        )
        budget = self.sizing.row_budget(total, held_bytes)
        rows = min(budget, pow2_at_least(num_units))
        dp = sharding.data_parallel_size()
        rows = -(-rows // dp) * dp
        # Keep the largest pool seen: a later, smaller call (a store's last
        # shard) reuses the compiled functions.
        seen_rows, seen_total = self.pool_shape
        if (
            seen_total >= total
            and self.sizing.row_budget(seen_total, held_bytes) >= seen_rows
        ):
            rows, total = max(rows, seen_rows), seen_total
        self.pool_shape = (rows, total)
        return rows, total

    def _refill(self, pool, refill, request, buckets, prefixes):
        """Runs the refill's cache operations, then starts its rows."""
        prompts = request.prompts
        for op in refill.operations:
            if isinstance(op, Copy):
                fn = self.programs.copy_slot(buckets[op.problem])
                pool.cache = fn(pool.cache, *as_int32([op.source, op.target]))
            else:
                pool.cache = self._prefill(
                    pool.cache, op, prompts, buckets[op.problem], prefixes
                )
        for slot, (i, s) in refill.assignments:
            n = len(prompts[i])
            pool.token[slot], pool.position[slot] = prompts[i][-1], n - 1
            pool.keys[slot] = request.keys(np.asarray([i]), np.asarray([s]))[0]
            pool.limit[slot] = n + request.max_new_tokens
            pool.start[slot], pool.done[slot] = n, False

    def _prefill(self, cache, op, prompts, bucket, prefixes):
        """Prefills `op.problem`'s prompt into slot `op.slot`: in one
        stage, or from the common prefix's cache (`common_prefix`)."""
        p = prompts[op.problem]
        row = np.full((1, bucket), self.pad_token_id)
        row[0, : len(p)] = p
        if not prefixes.length:
            prompt_cache = self.programs.prefill_prompt(bucket)(as_int32(row))
        else:
            fn = self.programs.prefill_prompt_after(bucket, prefixes.length)
            rest = as_int32(row[:, prefixes.length :])
            prompt_cache = fn(prefixes.get(), rest)
        write = self.programs.write_slot(bucket)
        return write(cache, prompt_cache, as_int32(op.slot))

    def _decode(self, pool, block, scheduler, scalars, counters):
        """Runs one compiled block of decode steps over the pool."""
        rows, smaller = pool.rows, self._smaller_pool(pool.rows)
        if scheduler.pending:  # return once a few rows finished, to refill
            stop_after = max(1, rows // 32)
        elif smaller:  # return once the pool can shrink
            stop_after = scheduler.busy - smaller
        else:
            stop_after = rows + 1
        pool.cache, pool.generated, *out = block(
            pool.cache,
            pool.generated,
            pool.state(),
            scalars[0],
            as_int32(stop_after),
            *scalars[1:],
        )
        pool.token, pool.position, pool.done, steps = (
            np.array(ops.convert_to_numpy(x)) for x in out
        )
        counters["slot_steps"] += int(steps) * rows

    def _smaller_pool(self, rows):
        """The power of two below `rows` (half a power-of-two pool, the
        sizes other calls compile too), or 0 when it would be too small."""
        smaller = pow2_at_least(rows) // 2
        if smaller < MIN_POOL_ROWS or smaller % sharding.data_parallel_size():
            return 0
        return smaller

    def _shrink(self, pool, scheduler):
        """Shrinks the pool while nothing waits and a smaller one holds the
        busy rows, so a draining pool stops paying for its finished rows.
        Each row's numbers do not depend on the other rows: the samples are
        the same.
        """
        rows = pool.rows
        while (
            not scheduler.pending
            and 0 < scheduler.busy <= self._smaller_pool(rows)
        ):
            rows = self._smaller_pool(rows)
        if rows == pool.rows:
            return
        keep = scheduler.shrink(rows)
        gather = self.programs.gather_rows()
        pool.cache, pool.generated = gather(
            pool.cache, pool.generated, as_int32(keep)
        )
        pool.keep(keep)

    def _finished_rows(self, pool, scheduler):
        """Ends the rows that are done, freeing their slots; yields them.

        A row is done when the device stopped it (stop token or length
        limit) or when its text holds a stop string.
        """
        host = None
        if self.postprocess.stop_strings:
            host = np.asarray(ops.convert_to_numpy(pool.generated))
            for slot in range(pool.rows):
                n = pool.length(slot)
                if not pool.done[slot] and self.postprocess.stop_index(
                    host[slot, :n]
                ):
                    pool.done[slot] = True
        ended = [
            slot
            for slot in range(pool.rows)
            if pool.done[slot] and scheduler.active[slot] is not None
        ]
        if ended and host is None:
            host = np.asarray(ops.convert_to_numpy(pool.generated))
        for slot in ended:
            i, s = scheduler.finish(slot)
            yield i, s, host[slot, : pool.length(slot)]
