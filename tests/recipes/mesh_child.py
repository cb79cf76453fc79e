"""Child process: the tiny recipe on one device, then on a 2x4 mesh.

Usage: python mesh_child.py WORK_DIR MESH

JAX with 8 virtual CPU devices (`XLA_FLAGS` is set here, before JAX
starts). The TINY pipeline of `pipeline_child.py` runs twice in this
process: without a mesh (one device), then with `mesh=MESH`. Prints one
`RESULT` line of JSON: per run, the report, every stored sample's text,
the test scores, and the distribution and weight layout each `fit` ran
under.
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

from pipeline_child import TINY  # noqa: E402

from keras_mathft.recipes import RecipeConfig  # noqa: E402
from keras_mathft.recipes import run_pipeline  # noqa: E402
from keras_mathft.sampling import SampleStore  # noqa: E402

STORES = ("train_samples", "test_greedy", "test_samples")


def stored(run_dir):
    """Every sample's text, by store, and the test scores."""
    out = {}
    for stage in STORES:
        samples = SampleStore(os.path.join(run_dir, stage, "store")).load()
        out[stage] = sorted(
            [s.problem_id, s.sample_index, s.text] for s in samples
        )
    with open(os.path.join(run_dir, "test_scores", "scores.json")) as f:
        out["scores"] = json.load(f)
    return out


def main(work_dir, mesh):
    result = {"devices": len(keras.distribution.list_devices())}
    seen = []
    train = keras.Model.fit

    def fit(model, *args, **kwargs):
        # Where training runs: the distribution and the weights' layouts.
        dist = keras.distribution.distribution()
        seen.append(
            {
                "distribution": type(dist).__name__ if dist else None,
                "split_weights": sum(
                    not v.value.sharding.is_fully_replicated
                    for v in model.trainable_variables
                ),
            }
        )
        return train(model, *args, **kwargs)

    keras.Model.fit = fit
    for name, extra in (("one", {}), ("mesh", {"mesh": mesh})):
        seen.clear()
        run_dir = os.path.join(work_dir, name)
        config = RecipeConfig(run_dir=run_dir, **TINY, **extra)
        report = run_pipeline(config, verbose=0)
        result[name] = {
            "report": report,
            "fits": list(seen),
            **stored(run_dir),
        }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
