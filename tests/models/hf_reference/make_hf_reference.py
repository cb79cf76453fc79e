"""Step 2 of the HF export reference: transformers reads our exports.

Run in the reference venv of `../gguf_reference/make_gemma3_reference.py`
(torch CPU + transformers; not the project's venv), after step 1
(`export_models.py --out=/tmp/hf_exports`):

    /work/refvenv/bin/python tests/models/hf_reference/make_hf_reference.py \
        --exports=/tmp/hf_exports \
        --math500=../shared/data/prm800k/math_splits/test.jsonl

For each export it loads the checkpoint with `AutoModelForCausalLM` and
`AutoTokenizer` (float32, CPU), tokenizes real MATH500 text with the
exported tokenizer, and stores in `hf_export_reference.json` and
`hf_export_reference.npz`:

- a digest of the exported tensors (names, dtypes, shapes and bytes), so
  the CI test can prove it exported the very same checkpoint;
- `architectures`, `model_type` and the generation config's EOS ids that
  transformers read;
- the token ids transformers' tokenizer gives for the texts;
- at every position, the top-8 next-token ids and log-probabilities of
  transformers' forward pass on those ids.

The texts: for the tiny models, the first 48 tokens of MATH500 problems 0
and 1 (`test/precalculus/807.json`, `test/intermediate_algebra/1994.json`);
for Gemma 3 270M, BOS + the first 96 tokens of problems 0, 100, 200, 300.
"""

import argparse
import json
import pathlib

import numpy as np
import torch
import transformers
from digest import tensor_digest

HERE = pathlib.Path(__file__).parent
TOP_K = 8
TINY_TOKENS = 48
TINY_PROBLEMS = (0, 1)
REAL_TOKENS = 96
REAL_PROBLEMS = (0, 100, 200, 300)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exports", required=True)
    parser.add_argument("--math500", required=True)
    args = parser.parse_args()
    exports = pathlib.Path(args.exports)
    problems = [json.loads(line) for line in open(args.math500)]
    meta, arrays = {}, {}
    for folder in sorted(p for p in exports.iterdir() if p.is_dir()):
        name = folder.name
        real = name == "gemma3_270m"
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch.float32
        ).eval()
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        generation = json.loads((folder / "generation_config.json").read_text())
        indices = REAL_PROBLEMS if real else TINY_PROBLEMS
        length = REAL_TOKENS if real else TINY_TOKENS
        texts, ids = [], []
        for index in indices:
            text = problems[index]["problem"]
            tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
            texts.append(problems[index]["unique_id"])
            ids.append(tokens[:length])
        inputs = [
            ([tokenizer.bos_token_id] if real else []) + row for row in ids
        ]
        width = max(len(row) for row in inputs)
        token_ids = np.zeros((len(inputs), width), "int32")
        top_ids = np.zeros((len(inputs), width, TOP_K), "int32")
        top_logp = np.zeros((len(inputs), width, TOP_K), "float32")
        for row, sequence in enumerate(inputs):
            with torch.no_grad():
                logits = model(torch.tensor([sequence])).logits[0]
            logp = torch.log_softmax(logits.double(), -1).numpy()
            order = np.argsort(-logp, -1, kind="stable")[:, :TOP_K]
            token_ids[row, : len(sequence)] = sequence
            top_ids[row, : len(sequence)] = order
            top_logp[row, : len(sequence)] = np.take_along_axis(logp, order, -1)
        arrays[f"{name}.token_ids"] = token_ids
        arrays[f"{name}.lengths"] = np.array([len(s) for s in inputs])
        arrays[f"{name}.top_ids"] = top_ids
        arrays[f"{name}.top_logp"] = top_logp
        config = model.config
        meta[name] = {
            "tensor_digest": tensor_digest(folder),
            "architectures": config.architectures,
            "model_type": config.model_type,
            "transformers_class": type(model).__name__,
            "tokenizer_class": type(tokenizer).__name__,
            "eos_token_id": generation.get("eos_token_id"),
            "problems": texts,
            "text_tokens": [row for row in ids],
        }
        print(name, type(model).__name__, width, flush=True)
    meta["_versions"] = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    with open(HERE / "hf_export_reference.json", "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    np.savez_compressed(HERE / "hf_export_reference.npz", **arrays)


if __name__ == "__main__":
    main()
