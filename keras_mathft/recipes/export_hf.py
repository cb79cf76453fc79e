"""Export a model as a Hugging Face checkpoint, from the command line.

    python -m keras_mathft.recipes.export_hf --preset=PATH --output=DIR

`--preset` takes what `MathSolver.from_preset` takes (a keras-hub preset
name or directory, a Hugging Face directory, a `.gguf` file); `--output`
must be a new or empty folder, and is checked before the model loads, so a
bad path costs no minutes of loading. A problem prints one line and exits
with status 2.
"""

import sys

from absl import app
from absl import flags

from keras_mathft.models import DEFAULT_MAX_SHARD_BYTES
from keras_mathft.models import MathSolver
from keras_mathft.models import check_export_path
from keras_mathft.models import export_hf

flags.DEFINE_string("preset", None, "Preset, HF folder or GGUF file.")
flags.DEFINE_string("output", None, "A new or empty folder.")
flags.DEFINE_string("dtype", None, "Weights dtype, e.g. bfloat16.")
flags.DEFINE_integer(
    "max_shard_bytes",
    DEFAULT_MAX_SHARD_BYTES,
    "Largest safetensors file; bigger models are sharded.",
)
flags.mark_flags_as_required(["preset", "output"])
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        output = check_export_path(FLAGS.output)
        kwargs = {} if FLAGS.dtype is None else {"dtype": FLAGS.dtype}
        solver = MathSolver.from_preset(FLAGS.preset, **kwargs)
        print(export_hf(solver, output, FLAGS.max_shard_bytes))
    except (ValueError, FileNotFoundError) as error:
        print(f"export_hf: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
