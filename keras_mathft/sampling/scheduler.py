"""Host-side slot scheduling for continuous batching (pure Python).

Work units are `(problem, sample index)` pairs queued in problem order. A
slot whose row finished is refilled from the head of the queue. Each slot
also remembers which problem's prompt its cache holds, so a refill needs:

- nothing, when the slot already holds the unit's prompt (the common case:
  a problem's next sample goes where its last one finished);
- a copy from a slot that holds the prompt;
- a prefill, only for a problem no slot holds.

Because units are queued by problem, a started problem always keeps a slot
holding its prompt until its last unit is dispatched: every prompt is
prefilled exactly once.
"""

import collections
import dataclasses


@dataclasses.dataclass(frozen=True)
class Prefill:
    """Prefill `problem`'s prompt into `slot`."""

    slot: int
    problem: int


@dataclasses.dataclass(frozen=True)
class Copy:
    """Copy the prompt held by slot `source` into slot `target`."""

    source: int
    target: int
    problem: int


@dataclasses.dataclass(frozen=True)
class Refill:
    """What to do before the next block: cache operations, run in order,
    then `(slot, unit)` assignments."""

    operations: tuple
    assignments: tuple


class SlotScheduler:
    """Assigns queued `(problem, sample)` units to a fixed pool of slots.

    Args:
        num_slots: int, rows decoded at once.
        units: iterable of `(problem, sample_index)`, grouped by problem.
        share_prompts: bool. Copy a prompt's cache between slots (True) or
            prefill every unit (False; for tests and benchmarks).

    Example:

    >>> s = SlotScheduler(2, [(0, 0), (0, 1), (1, 0)])
    >>> s.refill().operations
    (Prefill(slot=0, problem=0), Copy(source=0, target=1, problem=0))
    >>> s.finish(1)
    (0, 1)
    >>> s.refill().operations
    (Prefill(slot=1, problem=1),)
    """

    def __init__(self, num_slots, units, share_prompts=True):
        if num_slots < 1:
            raise ValueError(
                f"`num_slots` must be at least 1. Received: {num_slots}"
            )
        self.num_slots = int(num_slots)
        self.queue = collections.deque(units)
        self.active = [None] * self.num_slots
        self.holds = [None] * self.num_slots
        self.share_prompts = share_prompts
        self.prefills = 0

    @property
    def pending(self):
        """Units not dispatched yet."""
        return len(self.queue)

    @property
    def busy(self):
        """Slots decoding a unit."""
        return sum(u is not None for u in self.active)

    def refill(self):
        """Fills every free slot from the queue; returns the `Refill`."""
        free = [s for s in range(self.num_slots) if self.active[s] is None]
        operations, assignments = [], []
        while free and self.queue:
            unit = self.queue.popleft()
            problem = unit[0]
            slot = next((s for s in free if self.holds[s] == problem), None)
            if slot is None or not self.share_prompts:
                slot = free[0] if slot is None else slot
                source = self._holder(problem)
                if source is None:
                    operations.append(Prefill(slot, problem))
                    self.prefills += 1
                else:
                    operations.append(Copy(source, slot, problem))
                self.holds[slot] = problem
            free.remove(slot)
            self.active[slot] = unit
            assignments.append((slot, unit))
        return Refill(tuple(operations), tuple(assignments))

    def _holder(self, problem):
        if not self.share_prompts:
            return None
        holders = (s for s in range(self.num_slots) if self.holds[s] == problem)
        return next(holders, None)

    def shrink(self, num_slots):
        """Moves the busy slots into the first `num_slots`, once every unit
        is dispatched (nothing left to refill).

        Args:
            num_slots: int, at least `busy`.

        Returns:
            list of int: the old slot of each new slot, in order (the rows
            a smaller pool keeps).

        Example:

        >>> s = SlotScheduler(4, [(0, 0), (0, 1), (1, 0)])
        >>> _ = s.refill()
        >>> s.finish(0)
        (0, 0)
        >>> s.shrink(2), s.active
        ([1, 2], [(0, 1), (1, 0)])
        """
        if self.queue or num_slots < self.busy:
            raise ValueError(
                "`shrink` needs every unit dispatched and room for the busy "
                f"slots. Received: num_slots={num_slots} with {self.busy} "
                f"busy and {self.pending} pending"
            )
        busy = [s for s in range(self.num_slots) if self.active[s] is not None]
        idle = [s for s in range(self.num_slots) if self.active[s] is None]
        keep = busy + idle[: num_slots - len(busy)]
        self.active = [self.active[s] for s in keep]
        self.holds = [self.holds[s] for s in keep]
        self.num_slots = int(num_slots)
        return keep

    def finish(self, slot):
        """Marks `slot`'s row finished; returns its unit."""
        unit, self.active[slot] = self.active[slot], None
        if unit is None:
            raise ValueError(f"Slot {slot} is not decoding. Received: {slot}")
        return unit
