"""Slot scheduling for continuous batching (no model)."""

import numpy as np
import pytest

from keras_mathft.sampling.scheduler import Copy
from keras_mathft.sampling.scheduler import Prefill
from keras_mathft.sampling.scheduler import SlotScheduler

pytestmark = pytest.mark.backend_independent


def simulate(num_slots, num_problems, num_samples, seed, share=True):
    """Runs the scheduler with rows finishing at random; checks holdings."""
    rng = np.random.default_rng(seed)
    units = [(p, s) for p in range(num_problems) for s in range(num_samples)]
    scheduler = SlotScheduler(num_slots, units, share)
    holds = [None] * num_slots  # what the cache would hold
    dispatched = []
    while True:
        refill = scheduler.refill()
        for op in refill.operations:
            if isinstance(op, Copy):
                assert holds[op.source] == op.problem
                holds[op.target] = op.problem
            else:
                holds[op.slot] = op.problem
        for slot, unit in refill.assignments:
            assert holds[slot] == unit[0]  # the slot holds its prompt
            dispatched.append(unit)
        if not scheduler.busy:
            break
        busy = [s for s in range(num_slots) if scheduler.active[s]]
        for slot in rng.choice(busy, rng.integers(1, len(busy) + 1), False):
            scheduler.finish(int(slot))
    return scheduler, dispatched, units


@pytest.mark.parametrize(
    "slots, problems, samples", [(4, 5, 7), (8, 3, 64), (16, 20, 1), (3, 4, 3)]
)
def test_every_unit_runs_once_and_each_prompt_is_prefilled_once(
    slots, problems, samples
):
    for seed in range(5):
        scheduler, dispatched, units = simulate(slots, problems, samples, seed)
        assert dispatched == units  # in queue order, none lost or repeated
        assert scheduler.prefills == problems


def test_without_sharing_every_unit_is_prefilled():
    scheduler, dispatched, units = simulate(4, 3, 5, 0, share=False)
    assert dispatched == units and scheduler.prefills == len(units)


def test_a_finished_slot_takes_the_next_sample_of_its_problem():
    scheduler = SlotScheduler(2, [(0, 0), (0, 1), (0, 2), (1, 0)])
    first = scheduler.refill()
    assert first.operations == (Prefill(0, 0), Copy(0, 1, 0))
    scheduler.finish(1)
    again = scheduler.refill()
    assert again.operations == () and again.assignments == ((1, (0, 2)),)


def test_errors():
    with pytest.raises(ValueError, match="Received"):
        SlotScheduler(0, [])
    with pytest.raises(ValueError, match="Received"):
        SlotScheduler(1, [(0, 0)]).finish(0)
