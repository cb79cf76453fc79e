"""Data: records, MATH / PRM800K loaders, prompts, tokenization, offline task.

- Records: `MathProblem`, the one type every loader returns.
- MATH: `load_math` reads the `MATH/{train,test}/<subject>/<n>.json` tree
  or JSONL rows (MATH500 style); `load_paper_split` / `paper_split` build
  the paper's 12,000 / 500 split by `unique_id`.
- Contamination: `find_overlap(train, test)` names the test problems
  whose text (whitespace removed, case folded) is a training problem's.
- PRM800K: `load_prm800k` parses phase 1 / 2 label records;
  `correct_solutions` keeps the solutions whose answer is right.
- Bad input raises `DataFormatError` naming file and line; `strict=False`
  skips, counted in a `LoadReport` and logged.
- Adapters: `problems_from_rows` / `to_hf_dataset` for Hugging Face
  `datasets` (optional); `HendrycksMath`, the TFDS builder registered as
  `"hendrycks_math"` (manual folder), and `problems_from_tfds`.
- Prompts: `PromptTemplate`; `few_shot_template` and
  `few_shot_stop_strings` for base models.
- Tokenization: `tokenize_pairs` (response-only loss mask),
  `tokenize_prompts` (`padding_side`, `truncation`), `token_id_lists`,
  `pad_token_id`.
- Batches for `fit`: `make_sft_dataset` (length-bucketed) and
  `make_array_dataset`, one seeded NumPy plan (`ArrayBatches`) fed by
  `tf.data` on TensorFlow and as a `keras.utils.PyDataset` elsewhere, so
  JAX runs never import TensorFlow.
- Steps: `split_steps` (a solution's non-empty lines, with offsets) and,
  on the embedded task, `exact_step_labels` (each line checked against
  the reference solution with `arithmetic`, a safe exact evaluator:
  right up to the first wrong step); `label_steps`, `StepLabels`.
- Length buckets, the one rule every padded shape follows:
  `linear_bucket_lengths`, `geometric_bucket_lengths`, `bucket_length`,
  `geometric_bucket`, `assign_buckets`.
"""

from keras_mathft.data import arithmetic
from keras_mathft.data.bucketing import assign_buckets
from keras_mathft.data.bucketing import bucket_length
from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.data.bucketing import geometric_bucket_lengths
from keras_mathft.data.bucketing import linear_bucket_lengths
from keras_mathft.data.embedded_tokenizer import embedded_tokenizer_proto
from keras_mathft.data.errors import DataFormatError
from keras_mathft.data.errors import LoadReport
from keras_mathft.data.hendrycks_math import KNOWN_ANSWERS
from keras_mathft.data.hendrycks_math import load_math
from keras_mathft.data.hendrycks_math import parse_level
from keras_mathft.data.hendrycks_math import problem_from_row
from keras_mathft.data.hf_adapter import problem_from_hf_row
from keras_mathft.data.hf_adapter import problems_from_rows
from keras_mathft.data.hf_adapter import to_hf_dataset
from keras_mathft.data.overlap import find_overlap
from keras_mathft.data.pipelines import ArrayBatches
from keras_mathft.data.pipelines import make_array_dataset
from keras_mathft.data.pipelines import make_sft_dataset
from keras_mathft.data.prm800k import PRM800KCompletion
from keras_mathft.data.prm800k import PRM800KRecord
from keras_mathft.data.prm800k import PRM800KStep
from keras_mathft.data.prm800k import correct_solutions
from keras_mathft.data.prm800k import load_prm800k
from keras_mathft.data.prm800k import steps_to_solution
from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.data.prompts import few_shot_stop_strings
from keras_mathft.data.prompts import few_shot_template
from keras_mathft.data.prompts import sft_pairs
from keras_mathft.data.records import MathProblem
from keras_mathft.data.splits import load_paper_split
from keras_mathft.data.splits import paper_split
from keras_mathft.data.step_labels import ReferenceQuantities
from keras_mathft.data.step_labels import Step
from keras_mathft.data.step_labels import StepLabels
from keras_mathft.data.step_labels import exact_step_labels
from keras_mathft.data.step_labels import label_steps
from keras_mathft.data.step_labels import split_steps
from keras_mathft.data.synthetic import make_synthetic_problems
from keras_mathft.data.tokenization import TokenizationStats
from keras_mathft.data.tokenization import TokenizedPairs
from keras_mathft.data.tokenization import pad_token_id
from keras_mathft.data.tokenization import token_id_lists
from keras_mathft.data.tokenization import tokenize_pairs
from keras_mathft.data.tokenization import tokenize_prompts


def __getattr__(name):
    # The TFDS builder pulls in tensorflow_datasets (and TensorFlow): load
    # it on first use so JAX-only installs can import this package.
    if name in ("HendrycksMath", "problems_from_tfds"):
        from keras_mathft.data import tfds_math

        return getattr(tfds_math, name)
    raise AttributeError(
        f"module 'keras_mathft.data' has no attribute {name!r}"
    )


__all__ = [
    "arithmetic",
    "ArrayBatches",
    "assign_buckets",
    "bucket_length",
    "correct_solutions",
    "DataFormatError",
    "embedded_tokenizer_proto",
    "exact_step_labels",
    "few_shot_stop_strings",
    "few_shot_template",
    "find_overlap",
    "geometric_bucket",
    "geometric_bucket_lengths",
    "KNOWN_ANSWERS",
    "label_steps",
    "linear_bucket_lengths",
    "load_math",
    "load_paper_split",
    "load_prm800k",
    "LoadReport",
    "make_array_dataset",
    "make_sft_dataset",
    "make_synthetic_problems",
    "MathProblem",
    "pad_token_id",
    "paper_split",
    "parse_level",
    "PRM800KCompletion",
    "PRM800KRecord",
    "PRM800KStep",
    "problem_from_hf_row",
    "problem_from_row",
    "problems_from_rows",
    "PromptTemplate",
    "ReferenceQuantities",
    "sft_pairs",
    "split_steps",
    "Step",
    "StepLabels",
    "steps_to_solution",
    "to_hf_dataset",
    "token_id_lists",
    "TokenizationStats",
    "tokenize_pairs",
    "tokenize_prompts",
    "TokenizedPairs",
]
