"""Models: the solver (generator), the LM-as-evaluator and training phases.

- `MathSolver` wraps any keras-hub `CausalLM`: `compile(objective=
  "generation")` trains step-by-step solutions (SSFT), `compile(objective=
  "evaluation")` trains the LM-as-evaluator, `score_solutions` scores
  candidates with `S = p(correct) / (p(correct) + p(incorrect))`, each
  problem's prompt prefix run once (`SolutionScorer`).
- `build_causal_lm` builds a from-scratch causal LM of a family;
  `families` holds one module per family (`FAMILIES`, `family_of`), the
  record the builder, the GGUF importer, the HF exporter and the sampler
  read.
- `TrainingPhase`, `fit_phases`, `default_multitask_schedule`: multi-task
  sequential fine-tuning (generation -> evaluation -> generation).
- `TrainingCheckpoint`: a callback that makes an interrupted `fit` (or
  `fit_phases` schedule) resume exactly.
- `quantize_output_layer`: an int8 output projection for faster
  sampling; `mean_token_nll` checks it against the float model.
- `MathRewardModel`: an optional scalar-head evaluator (not the paper's).
- `load_gguf`, `convert_gguf`: llama.cpp GGUF checkpoints (Gemma 3, Llama,
  Qwen 2, Qwen 3) as keras-hub causal LMs, converted once and cached;
  a BPE file's tokenizer is a `FileBPETokenizer`, split like llama.cpp.
- `export_hf`: a Hugging Face checkpoint (config, generation config,
  safetensors, tokenizer) of any family we test.
- `layout_map(model, device_mesh)`: how each weight of a model shards
  over a `(batch, model)` device mesh, from its family record;
  `sharding` parses meshes (`"batch:2,model:4"`), builds the
  `ModelParallel` to build or load a model under (`model_parallel`) and
  lays rows and KV caches out for sampling and scoring.
- `losses` holds the float32 losses and `EvaluatorOptions`, the one record
  of the evaluation objective's options; `build_evaluator_examples` and
  the batch helpers build the evaluator's training data.
- `ProcessEvaluator`: the evaluator applied per step (label words read at
  every step's end, one pass), trained on step labels (`ProcessExample`,
  `build_process_pairs`, `example_inputs`, `pair_step_inputs`); a
  solution's score is `aggregate_step_scores` of its steps (min or
  product). `hard_outcome_pairs`: outcome pairs whose wrong solution has
  a plausible answer of the right form.
"""

from keras_mathft.models import families
from keras_mathft.models import losses
from keras_mathft.models import sharding
from keras_mathft.models.builder import build_causal_lm
from keras_mathft.models.checkpoint import TrainingCheckpoint
from keras_mathft.models.compiled import compile_inference_function
from keras_mathft.models.evaluator_data import EvaluatorData
from keras_mathft.models.evaluator_data import EvaluatorDataStats
from keras_mathft.models.evaluator_data import EvaluatorExample
from keras_mathft.models.evaluator_data import EvaluatorPair
from keras_mathft.models.evaluator_data import build_evaluator_examples
from keras_mathft.models.evaluator_data import classification_inputs
from keras_mathft.models.evaluator_data import evaluation_texts
from keras_mathft.models.evaluator_data import pair_inputs
from keras_mathft.models.families import FAMILIES
from keras_mathft.models.families import Family
from keras_mathft.models.families import family_of
from keras_mathft.models.file_tokenizer import FileBPETokenizer
from keras_mathft.models.gguf import GGUF_ARCHITECTURES
from keras_mathft.models.gguf import convert_gguf
from keras_mathft.models.gguf import load_gguf
from keras_mathft.models.hard_pairs import hard_outcome_pairs
from keras_mathft.models.hf_export import DEFAULT_MAX_SHARD_BYTES
from keras_mathft.models.hf_export import check_export_path
from keras_mathft.models.hf_export import export_hf
from keras_mathft.models.losses import EvaluatorOptions
from keras_mathft.models.phases import TrainingPhase
from keras_mathft.models.phases import default_multitask_schedule
from keras_mathft.models.phases import fit_phases
from keras_mathft.models.presets import load_causal_lm
from keras_mathft.models.process import ProcessEvaluator
from keras_mathft.models.process import aggregate_step_scores
from keras_mathft.models.process_data import ProcessExample
from keras_mathft.models.process_data import ProcessPair
from keras_mathft.models.process_data import build_process_pairs
from keras_mathft.models.process_data import example_inputs
from keras_mathft.models.process_data import pair_step_inputs
from keras_mathft.models.quantization import mean_token_nll
from keras_mathft.models.quantization import quantize_output_layer
from keras_mathft.models.reward_model import MathRewardModel
from keras_mathft.models.scorer import SolutionScorer
from keras_mathft.models.sharding import layout_map
from keras_mathft.models.solver import MathSolver

__all__ = [
    "aggregate_step_scores",
    "build_causal_lm",
    "build_evaluator_examples",
    "build_process_pairs",
    "check_export_path",
    "classification_inputs",
    "compile_inference_function",
    "convert_gguf",
    "DEFAULT_MAX_SHARD_BYTES",
    "default_multitask_schedule",
    "evaluation_texts",
    "EvaluatorData",
    "EvaluatorDataStats",
    "EvaluatorExample",
    "EvaluatorOptions",
    "EvaluatorPair",
    "example_inputs",
    "export_hf",
    "FAMILIES",
    "families",
    "Family",
    "family_of",
    "FileBPETokenizer",
    "fit_phases",
    "GGUF_ARCHITECTURES",
    "hard_outcome_pairs",
    "layout_map",
    "load_causal_lm",
    "load_gguf",
    "losses",
    "MathRewardModel",
    "MathSolver",
    "mean_token_nll",
    "pair_inputs",
    "pair_step_inputs",
    "ProcessEvaluator",
    "ProcessExample",
    "ProcessPair",
    "quantize_output_layer",
    "sharding",
    "SolutionScorer",
    "TrainingCheckpoint",
    "TrainingPhase",
]
