"""Child process: sample with and without DataParallel on 2 CPU devices."""

import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from keras_mathft.sampling import SamplingConfig  # noqa: E402
from keras_mathft.sampling import SolutionSampler  # noqa: E402
from sampling.conftest import tiny_gpt2  # noqa: E402


def main():
    lm = tiny_gpt2()
    problems = ["What is 1+1?", "What is 2+3?", "Find x if x+1=3."]
    config = SamplingConfig(
        num_samples=4, max_new_tokens=6, seed=3, stop_token_ids=None
    )
    plain = SolutionSampler(lm, config)
    expected = plain.sample(problems, verbose=False).samples
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )
    sharded = SolutionSampler(lm, config.replace(max_rows_per_chunk=4))
    got, stats = sharded.sample(problems, verbose=False)
    print(
        "RESULT "
        + json.dumps(
            {
                "devices": len(devices),
                "data_parallel": stats.data_parallel,
                "same": [[s.text for s in g] for g in got]
                == [[s.text for s in g] for g in expected],
            }
        )
    )


if __name__ == "__main__":
    main()
