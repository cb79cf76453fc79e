"""End-to-end recipes: the pipeline behind `examples/train.py`.

- `RecipeConfig`: every setting of a run, made from flat settings (the
  flags' names), resolved and checked on construction, read by section
  (`RunSettings`, `ModelSettings`, `DataSettings`, `SamplingSettings`,
  `TrainingSettings`, `EvaluatorSettings`: each field with its help
  text); `SIZES` holds the offline `quick` and `default` sizes, `CHOICES`
  the values of the fields that take one of a few.
- `run_pipeline(config)`: runs or resumes SSFT -> sampling -> evaluator
  data -> evaluator (or multi-task sequential fine-tuning) -> test decoding
  and scoring -> report, one resumable stage at a time in
  `config.run_dir`; returns the report dict. `stage_names(config)` lists
  the stages, `pipeline_stages(config)` their declarations (`Stage`: what
  each reads, writes and runs).
- `initialize_distributed()`: one process per host (a TPU pod slice):
  joins JAX's distributed runtime and trains data parallel on all hosts;
  `run_pipeline` then runs on every process, process 0 writing the run.
- `define_flags` / `config_from_flags`: absl flags, one per config field.
- `check_backend()`: the recipe runs on `SUPPORTED_BACKENDS` (JAX and
  TensorFlow) only; `check_files_and_packages(config)`: what a config
  names on the disk or needs installed. `run_pipeline` and
  `check_run_directory` check both first.
- `StageContext(config)`: what the stages of a run share (artifact paths
  by declared name, problems, models, training and sampling); notebooks,
  studies and benchmarks use it to reach a run's files and models.
- `RunDirectory`, `check_run_directory`, `write_json_atomic`: the run
  directory helpers; `input_digests(config)`, the digests of the data and
  local model files that a run directory stores with its settings.
- `LossLogger`, `log_report`: TensorBoard logs without TensorFlow (what
  `tensorboard=DIR` writes).
"""

from keras_mathft.atomic_files import write_json_atomic
from keras_mathft.recipes.config import RecipeConfig
from keras_mathft.recipes.context import TIMINGS_FILE
from keras_mathft.recipes.context import StageContext
from keras_mathft.recipes.flags import config_from_flags
from keras_mathft.recipes.flags import define_flags
from keras_mathft.recipes.inputs import input_digests
from keras_mathft.recipes.pipeline import format_report
from keras_mathft.recipes.pipeline import initialize_distributed
from keras_mathft.recipes.pipeline import mesh_distribution
from keras_mathft.recipes.pipeline import run_pipeline
from keras_mathft.recipes.pipeline import stage_names
from keras_mathft.recipes.preflight import SUPPORTED_BACKENDS
from keras_mathft.recipes.preflight import check_backend
from keras_mathft.recipes.preflight import check_files_and_packages
from keras_mathft.recipes.preflight import check_run_directory
from keras_mathft.recipes.problems import load_problems
from keras_mathft.recipes.run_dir import RunDirectory
from keras_mathft.recipes.settings import CHOICES
from keras_mathft.recipes.settings import SIZES
from keras_mathft.recipes.settings import DataSettings
from keras_mathft.recipes.settings import EvaluatorSettings
from keras_mathft.recipes.settings import ModelSettings
from keras_mathft.recipes.settings import RunSettings
from keras_mathft.recipes.settings import SamplingSettings
from keras_mathft.recipes.settings import TrainingSettings
from keras_mathft.recipes.stages import Stage
from keras_mathft.recipes.stages import pipeline_stages
from keras_mathft.recipes.tensorboard import LossLogger
from keras_mathft.recipes.tensorboard import log_report

__all__ = [
    "check_backend",
    "check_files_and_packages",
    "check_run_directory",
    "CHOICES",
    "config_from_flags",
    "DataSettings",
    "define_flags",
    "EvaluatorSettings",
    "format_report",
    "initialize_distributed",
    "input_digests",
    "load_problems",
    "log_report",
    "LossLogger",
    "mesh_distribution",
    "ModelSettings",
    "pipeline_stages",
    "RecipeConfig",
    "run_pipeline",
    "RunDirectory",
    "RunSettings",
    "SamplingSettings",
    "SIZES",
    "Stage",
    "stage_names",
    "StageContext",
    "SUPPORTED_BACKENDS",
    "TIMINGS_FILE",
    "TrainingSettings",
    "write_json_atomic",
]
