"""Child process: a common prompt prefix on one device and on a 2x2 mesh.

JAX with 4 virtual CPU devices (`XLA_FLAGS` is set here, before JAX
starts). A tiny Gemma 3 (one KV head: its cache splits by head dimension
over `model`) samples prompts that share a long prefix on one device, then
under `models.model_parallel` on `batch:2,model:2`, with the prefix shared
and not. Prints one `RESULT` line of JSON for `test_common_prefix.py`.
"""

import json
import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mathft.data import PromptTemplate  # noqa: E402
from keras_mathft.data import embedded_tokenizer_proto  # noqa: E402
from keras_mathft.models import MathSolver  # noqa: E402
from keras_mathft.models import build_causal_lm  # noqa: E402
from keras_mathft.models import sharding  # noqa: E402
from keras_mathft.sampling import SamplingConfig  # noqa: E402
from keras_mathft.sampling import SolutionSampler  # noqa: E402

PREFIX = (
    "Solve each problem step by step, then write the answer in a box. "
    "Keep every step short and check the sum at the end.\n\n"
)
PROBLEMS = ["What is 1 + 1 ?", "what is the sum of 3 and 4 ?", "2 + 3 ?"]


def build():
    keras.utils.set_random_seed(0)
    lm = build_causal_lm(
        "gemma3",
        embedded_tokenizer_proto(),
        num_layers=2,
        hidden_dim=32,
        num_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        intermediate_dim=64,
        sequence_length=128,
    )
    return MathSolver(lm, prompt_template=PromptTemplate(PREFIX + "{problem}"))


def sample(solver, share):
    config = SamplingConfig(
        max_rows_per_chunk=8,
        block_steps=4,
        stop_token_ids=None,
        share_common_prefix=share,
        num_samples=4,
        max_new_tokens=8,
        seed=5,
    )
    sampler = SolutionSampler(solver, config)
    out, stats = sampler.sample(PROBLEMS, verbose=False)
    stats = stats.as_dict()
    keys = ("data_parallel", "prefills", "prefix_length", "prefix_prefills")
    length = stats["prefix_length"]
    prefix = sampler.programs.prefix_fill(length)(np.ones((1, length), "int32"))
    return {
        "texts": [[s.text for s in group] for group in out],
        **{k: stats[k] for k in keys},
        # The prefix's one-row cache: heads' dimension over `model`.
        "prefix_cache": [
            [str(a) if a else None for a in getattr(leaf.sharding, "spec", ())]
            for leaf in keras.tree.flatten(prefix)
        ][:1],
    }


def main():
    result = {"devices": len(keras.distribution.list_devices())}
    solver = build()
    weights = [v.numpy() for v in solver.causal_lm.backbone.weights]
    result["single"] = sample(solver, True)
    mesh = sharding.device_mesh("batch:2,model:2")
    with sharding.model_parallel("gemma3", mesh).scope():
        solver = build()
        for v, w in zip(solver.causal_lm.backbone.weights, weights):
            v.assign(w)
        result["mesh_shared"] = sample(solver, True)
        result["mesh_unshared"] = sample(solver, False)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
