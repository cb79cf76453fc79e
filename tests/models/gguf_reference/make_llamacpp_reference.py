"""Writes llama.cpp's own token ids and log-probs for the real GGUF files.

llama.cpp is the engine these files are made for, and nobody in this
project wrote it, so it is the independent reference for the import: the
tokenizer (pre-tokenizer, special tokens, start token) and the weights.
`tests/models/test_llamacpp_reference.py` checks our conversion against
the files this script writes, so CI needs no llama.cpp:

- `<name>.llamacpp.json`, for each file: its sha256, llama.cpp's version,
  whether it adds a start token, and for every MATH500 problem and
  solution text the number and a digest of llama.cpp's token ids
  (`llama_tokenize` with `add_special=False`, `parse_special=True`).
- `smollm2_135m_instruct_q4_1.npz` (SmolLM2 only): for 24 MATH500
  problem+solution texts (every 21st, `Problem:\\n...\\n\\nSolution:\\n`
  then the solution, at most 128 tokens, no start token: the file adds
  none), the token ids and, at every position, the top-8 next-token ids
  and log-probabilities of llama.cpp's float32 copy of the file
  (`llama_model_quantize` to ALL_F32: the dequantized weights, as ours;
  float32 KV cache), plus the mean next-token NLL of llama.cpp on the Q4_1
  file itself (quantized kernels, 8-bit activations) and on the float32
  copy.

It lives beside the test; it is not collected by pytest. Build llama.cpp's
Python binding from PyPI's source package with the machine's compilers
(about 15 minutes on 2 cores), outside the project's venv, then run it
from the repository root:

    python3 -m venv /tmp/llvenv
    /tmp/llvenv/bin/pip install llama-cpp-python==0.3.36 numpy
    /tmp/llvenv/bin/python \\
        tests/models/gguf_reference/make_llamacpp_reference.py \\
        --math500=../shared/data/prm800k/math_splits/test.jsonl \\
        --gguf=smollm2_135m_instruct_q4_1=PATH_TO_SmolLM2.gguf \\
        --gguf=gemma3_270m_q4_k_m=PATH_TO_gemma-3-270m.gguf \\
        --log_probs=smollm2_135m_instruct_q4_1
"""

import argparse
import hashlib
import json
import math
import pathlib
import tempfile

import llama_cpp
import numpy as np

TEMPLATE = "Problem:\n{problem}\n\nSolution:\n"  # the project's default
TOP_K = 8
LENGTH = 128
PROBLEM_STRIDE = 21
HERE = pathlib.Path(__file__).parent


def digest(ids):
    data = np.asarray(ids, "<i4").tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def load(path, logits_all=False):
    # A float32 KV cache: llama.cpp's default, float16, moves log-probs by
    # ~1e-2, which would hide the import's own error.
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=1024,
        n_batch=1024,
        n_threads=2,
        logits_all=logits_all,
        type_k=llama_cpp.GGML_TYPE_F32,
        type_v=llama_cpp.GGML_TYPE_F32,
        flash_attn=False,
        verbose=False,
    )


def tokenize(llm, text):
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def text_digests(llm, records):
    out = {}
    for record in records:
        for field in ("problem", "solution"):
            ids = tokenize(llm, record[field])
            out[f"{record['unique_id']}:{field}"] = [len(ids), digest(ids)]
    return out


def float32_copy(path, folder):
    """llama.cpp's own dequantization of the file, as an F32 GGUF."""
    target = pathlib.Path(folder) / "f32.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True
    status = llama_cpp.llama_model_quantize(
        str(path).encode(), str(target).encode(), params
    )
    assert status == 0, status
    return target


def log_softmax(logits):
    logits = np.asarray(logits, "float64")
    top = logits.max(-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))


def score(llm, ids):
    """Log-probs of every next token of `ids` (positions 0 .. n-2)."""
    llm.reset()
    llm.eval(ids)
    return log_softmax(np.asarray(llm.scores[: len(ids)]))


def log_prob_reference(path, records):
    texts = [
        TEMPLATE.format(problem=r["problem"]) + r["solution"]
        for r in records[::PROBLEM_STRIDE]
    ]
    with tempfile.TemporaryDirectory() as folder:
        exact = load(float32_copy(path, folder), logits_all=True)
        quantized = load(path, logits_all=True)
        rows, nll = [], {"float32": [], "quantized": []}
        for text in texts:
            ids = tokenize(exact, text)[:LENGTH]
            logp = score(exact, ids)
            top = np.argsort(-logp, -1)[:, :TOP_K]
            rows.append(
                (ids, top, np.take_along_axis(logp, top, -1).astype("f8"))
            )
            targets = np.asarray(ids[1:])
            for name, llm in (("float32", exact), ("quantized", quantized)):
                lp = logp if llm is exact else score(llm, ids)
                nll[name] += list(-lp[np.arange(len(targets)), targets])
    lengths = np.array([len(ids) for ids, _, _ in rows], "int32")
    token_ids = np.zeros((len(rows), LENGTH), "int32")
    top_ids = np.zeros((len(rows), LENGTH, TOP_K), "int32")
    top_logp = np.zeros((len(rows), LENGTH, TOP_K), "float64")
    for i, (ids, top, logp) in enumerate(rows):
        token_ids[i, : len(ids)] = ids
        top_ids[i, : len(ids)] = top
        top_logp[i, : len(ids)] = logp
    arrays = dict(
        token_ids=token_ids, lengths=lengths, top_ids=top_ids, top_logp=top_logp
    )
    means = {k: float(np.mean(v)) for k, v in nll.items()}
    return arrays, {**means, "positions": len(nll["float32"])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--math500", required=True)
    parser.add_argument("--gguf", action="append", required=True)
    parser.add_argument("--log_probs", action="append", default=[])
    args = parser.parse_args()
    records = [json.loads(x) for x in open(args.math500, encoding="utf-8")]
    for item in args.gguf:
        name, path = item.split("=", 1)
        llm = load(path)
        meta = {
            "gguf_file": pathlib.Path(path).name,
            "gguf_sha256": file_sha256(path),
            "llama_cpp_python": llama_cpp.__version__,
            "tokenize": "llama_tokenize(add_special=False, parse_special=True)",
            "add_bos": bool(llm._model.add_bos_token()),
            "digest": "sha256 of the int32 little-endian ids, 16 hex digits",
            "math500_sha256": file_sha256(args.math500),
            "text_token_digests": text_digests(llm, records),
        }
        del llm
        if name in args.log_probs:
            arrays, nll = log_prob_reference(path, records)
            np.savez_compressed(HERE / f"{name}.npz", **arrays)
            meta["mean_nll"] = nll
            meta["template"] = TEMPLATE
            assert math.isfinite(nll["float32"])
        (HERE / f"{name}.llamacpp.json").write_text(
            json.dumps(meta, indent=1, sort_keys=True)
        )
        print(
            name, {k: v for k, v in meta.items() if k != "text_token_digests"}
        )


if __name__ == "__main__":
    main()
