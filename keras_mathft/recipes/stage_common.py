"""What the stage modules share: which stage's model generates and which
scores, and reading and writing artifacts."""

import json

import numpy as np

from keras_mathft import data as data_lib
from keras_mathft import grading
from keras_mathft.atomic_files import write_text_atomic
from keras_mathft.sampling.sample_record import problem_id


def generator_stage(config):
    """The stage whose model samples the test solutions."""
    return "multitask_generation" if config.training.multitask else "ssft"


def evaluator_stage(config):
    """The stage whose model scores them (the generator itself, multi-task)."""
    return "multitask_generation" if config.training.multitask else "evaluator"


def is_correct(answer, reference):
    return answer is not None and bool(
        grading.answers_equivalent(answer, reference)
    )


def aligned(store, problems):
    """The store's samples as one list per problem, in problem order."""
    by_problem = store.by_problem()
    return [by_problem[problem_id(p, i)] for i, p in enumerate(problems)]


def trim(x):
    """Cuts token columns that no row uses (to a multiple of 16)."""
    mask = x["padding_mask"]
    used = int(np.max(np.sum(mask, axis=-1))) if mask.size else 1
    buckets = data_lib.linear_bucket_lengths(
        mask.shape[-1], num_buckets=None, multiple=16
    )
    length = data_lib.bucket_length(used, buckets)
    # Other inputs (a process batch's step positions) index the tokens.
    columns = ("token_ids", "padding_mask")
    return {k: v[..., :length] if k in columns else v for k, v in x.items()}


def write_jsonl(path, rows):
    write_text_atomic(
        path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
