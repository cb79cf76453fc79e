"""Sampling N solutions per problem, sample stores, re-rankers and metrics.

- `sample_solutions` / `SolutionSampler`: N samples per problem over any
  keras-hub causal LM (or a `MathSolver`), continuously batched, each
  prompt prefilled once and its KV cache shared by its N rows, a prefix
  common to every prompt (few-shot exemplars) prefilled once per call
  (`common_prefix`), exact top-p without sorting the vocabulary;
  `greedy_solutions` for pass@1; `get_sampler` reuses a model's sampler.
  One frozen `SamplingConfig` holds every setting (N, temperature, top-p,
  max new tokens, seed, stops, schedule, rows, memory budget) and is
  passed, never restated; a sampler returns `SamplerOutput(samples,
  stats)` with the call's `SamplingStats`.
- `SampleStore`, `sample_to_store`, `merge_stores`: resumable JSONL shards,
  one locked writer per process, checksummed and verified on load
  (`StoreDamagedError` names a damaged file), merged into one store.
- Re-rankers (`maj1`, `rr_all`, `rr_top_k`, `weighted_rr`,
  `weighted_rr_top_k`, `maj1_top_n`) that count evaluator calls, and
  `RERANKERS`, the one registry (`Reranker`: function, label, needs) that
  `evaluate`, the report and the benchmarks read.
- `pass_at_k`, `evaluate` and `write_report` for the paper's metrics and
  accuracy-vs-N curves (with `bootstrap`, 95% intervals, and
  `against_voting`: whether one run tells a re-ranker from voting);
  `evaluator_auc`, `within_problem_auc` (right vs
  wrong samples of the same problem, what re-ranking uses) and
  `expected_calibration_error` for the evaluator's quality.

- `monte_carlo_step_labels` (`rollouts`): step labels for any data from
  k rollouts of each step's prefix (Math-Shepherd), with their measured
  cost (`RolloutCost`); `step_label_agreement` compares two labellings.

Only the decoder needs keras: it is imported on first use, so stores,
re-rankers and metrics load without keras, jax or tensorflow.
"""

from importlib import import_module as _import_module

from keras_mathft.sampling.merge import merge_stores
from keras_mathft.sampling.metrics import evaluate
from keras_mathft.sampling.metrics import evaluator_auc
from keras_mathft.sampling.metrics import expected_calibration_error
from keras_mathft.sampling.metrics import pass_at_k
from keras_mathft.sampling.metrics import within_problem_auc
from keras_mathft.sampling.report import against_voting
from keras_mathft.sampling.report import markdown_table
from keras_mathft.sampling.report import plot_curves
from keras_mathft.sampling.report import write_report
from keras_mathft.sampling.rerankers import RERANKERS
from keras_mathft.sampling.rerankers import Reranker
from keras_mathft.sampling.rerankers import Selection
from keras_mathft.sampling.rerankers import evaluator_score_fn
from keras_mathft.sampling.rerankers import maj1
from keras_mathft.sampling.rerankers import maj1_top_n
from keras_mathft.sampling.rerankers import rr_all
from keras_mathft.sampling.rerankers import rr_top_k
from keras_mathft.sampling.rerankers import weighted_rr
from keras_mathft.sampling.rerankers import weighted_rr_top_k
from keras_mathft.sampling.rollouts import MonteCarloLabels
from keras_mathft.sampling.rollouts import RolloutCost
from keras_mathft.sampling.rollouts import monte_carlo_step_labels
from keras_mathft.sampling.rollouts import step_label_agreement
from keras_mathft.sampling.sample_record import Sample
from keras_mathft.sampling.sampling_config import SamplerOutput
from keras_mathft.sampling.sampling_config import SamplingConfig
from keras_mathft.sampling.sampling_config import SamplingStats
from keras_mathft.sampling.store import SampleStore
from keras_mathft.sampling.store import StoreDamagedError
from keras_mathft.sampling.store import sample_to_store
from keras_mathft.sampling.store import shard_problems

_LAZY = {
    "SolutionSampler": "keras_mathft.sampling.sampler",
    "get_sampler": "keras_mathft.sampling.sampler",
    "greedy_solutions": "keras_mathft.sampling.sampler",
    "sample_solutions": "keras_mathft.sampling.sampler",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(_import_module(_LAZY[name]), name)
    raise AttributeError(
        f"module 'keras_mathft.sampling' has no attribute {name!r}"
    )


# The decoder's names (`_LAZY`) are left out, as `data` leaves out its
# TFDS names, so that `from keras_mathft.sampling import *` never
# imports keras.
__all__ = [
    "against_voting",
    "evaluate",
    "evaluator_auc",
    "evaluator_score_fn",
    "expected_calibration_error",
    "maj1",
    "maj1_top_n",
    "markdown_table",
    "merge_stores",
    "monte_carlo_step_labels",
    "MonteCarloLabels",
    "pass_at_k",
    "plot_curves",
    "Reranker",
    "RERANKERS",
    "RolloutCost",
    "rr_all",
    "rr_top_k",
    "Sample",
    "sample_to_store",
    "SamplerOutput",
    "SampleStore",
    "SamplingConfig",
    "SamplingStats",
    "Selection",
    "shard_problems",
    "step_label_agreement",
    "StoreDamagedError",
    "weighted_rr",
    "weighted_rr_top_k",
    "within_problem_auc",
    "write_report",
]
