"""The training and test problems of a run, held out from each other."""

import dataclasses
import os

import numpy as np
from absl import logging

from keras_mathft import data as data_lib

_TEST_SEED_OFFSET = 1_000_003
# Test ids a contamination error names.
_IDS_SHOWN = 5


def load_problems(config):
    """Returns `(train, test)` problem lists for `config`.

    The embedded task draws `num_train_problems` seeded problems and
    `num_test_problems` more from another seed, leaving out any whose text
    is a training problem, so the test set is held out. With
    `data="math"` the paper's 12K/500 split is read from `data_dir`, kept
    to levels up to `max_level` (when set), cut to a seeded draw of
    `num_train_problems` training problems (in file order) and the first
    `num_test_problems` test problems, and the chosen solutions are
    attached; a test problem that is also one of those training problems
    (`data.find_overlap`) is refused unless `allow_contamination` is set.

    Raises:
        ValueError: for contaminated data, naming how many test problems
            are training problems and the first few ids.
    """
    num_train = config.data.num_train_problems
    num_test = config.data.num_test_problems
    if config.data.data == "embedded":
        return _embedded_problems(config, num_train, num_test)
    train, test = _load_math(config)
    max_level = config.data.max_level
    if max_level is not None:
        # Unrated problems (level 0, "Level ?") are left out too.
        train, test = (
            [p for p in split if 1 <= (p.level or 0) <= max_level]
            for split in (train, test)
        )
    if num_train is not None and num_train < len(train):
        # MATH's files run subject by subject: a seeded draw, not the first
        # files, keeps every subject in a subset.
        rng = np.random.default_rng(config.run.seed)
        keep = np.sort(rng.choice(len(train), num_train, replace=False))
        train = [train[i] for i in keep]
    if num_test is not None:
        test = test[:num_test]
    train = _with_solutions(config, train)
    if not config.data.allow_contamination:
        _check_held_out(config, train, test)
    return train, test


def _check_held_out(config, train, test):
    overlap = data_lib.find_overlap(train, test)
    if overlap:
        shown = ", ".join(
            f"{test_id} (= {train_id})"
            for test_id, train_id in overlap[:_IDS_SHOWN]
        )
        more = len(overlap) - _IDS_SHOWN
        raise ValueError(
            f"{len(overlap)} of the {len(test)} test problems in "
            f"{config.data.data_dir!r} are also training problems (the same "
            "text, whitespace and case aside), so test scores would be "
            "inflated. Remove them from the test or the training files, "
            "or set `allow_contamination` (--allow_contamination) to run "
            f"on them on purpose. Received: test ids {shown}"
            + (f" and {more} more" if more > 0 else "")
        )


def _embedded_problems(config, num_train, num_test):
    levels = range(1, config.data.max_level + 1)

    # `both` trains on each problem's detailed and coarse solutions, as
    # `solutions="both"` does with MATH's and PRM800K's.
    both = config.data.style == "both"
    styles = ("detailed", "coarse") if both else (config.data.style,)

    def draw(count, seed, style=styles[0]):
        return data_lib.make_synthetic_problems(
            count, seed=seed, style=style, levels=levels
        )

    train = [p for s in styles for p in draw(num_train, config.run.seed, s)]
    seen = {p.problem for p in train}
    # Test problems come from their own seeded stream, minus any problem
    # text that is also a training problem, so the test set is held out.
    count = 4 * num_test + 64
    while True:
        pool = draw(count, config.run.seed + _TEST_SEED_OFFSET)
        test = _unique([p for p in pool if p.problem not in seen])
        if len(test) >= num_test or count >= 256 * (num_test + 64):
            break
        count *= 4
    if len(test) < num_test:
        logging.warning(
            "Only %d distinct held-out test problems exist at max_level=%d "
            "besides the %d training problems; using them all.",
            len(test),
            config.data.max_level,
            num_train,
        )
    test = [
        dataclasses.replace(p, unique_id="test/" + p.unique_id)
        for p in test[:num_test]
    ]
    return train, test


def _load_math(config):
    root = config.data.data_dir
    if os.path.isdir(os.path.join(root, "MATH")):
        return data_lib.load_paper_split(root, check_counts=False)
    return (
        data_lib.load_math(os.path.join(root, "train.jsonl")),
        data_lib.load_math(os.path.join(root, "test.jsonl")),
    )


def _with_solutions(config, train):
    if config.data.solutions == "math":
        return train
    records = data_lib.load_prm800k(config.prm800k_file(), strict=False)
    prm = data_lib.correct_solutions(records, problems=train)
    # Keep PRM800K solutions of training problems only (never MATH500).
    known = {p.problem.strip() for p in train}
    prm = [p for p in prm if p.problem.strip() in known]
    return prm if config.data.solutions == "prm800k" else train + prm


def _unique(problems):
    seen, out = set(), []
    for p in problems:
        if p.problem not in seen:
            seen.add(p.problem)
            out.append(p)
    return out
