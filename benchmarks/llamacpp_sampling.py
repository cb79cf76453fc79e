"""N samples per prompt with llama.cpp, for `benchmarks/sampling.py`.

Run by `sampling.py --methods=...,llama_cpp` in its own process, under an
interpreter that has llama.cpp's Python binding (`--llama_cpp_python`;
this project's venv does not), so this file imports nothing of the
project. It reads a job (JSON: the GGUF file, each problem's prompt token
ids, N, the lengths, temperature, top-p, stop ids, threads) and prints one
`RESULT {...}` line.

Each problem is decoded as llama.cpp's batched examples do: its prompt is
evaluated once in sequence 0, its KV cells are shared with sequences 1 to
N - 1 (`llama_memory_seq_cp`), then every step decodes one token for each
live sequence in one batch. Each row samples with llama.cpp's own chain
(top-p, temperature, a seeded draw), one row after another in one Python
thread, or spread over `sampling_threads` threads (the ctypes calls
release the GIL). The first problem is decoded once untimed (warm-up).

Build the binding from PyPI's source package with the machine's compilers
(about 15 minutes on 2 cores):

    python3 -m venv /tmp/llvenv
    /tmp/llvenv/bin/pip install llama-cpp-python==0.3.36
"""

import concurrent.futures
import json
import sys
import time

import llama_cpp as lc


def load(job):
    lc.llama_backend_init()
    params = lc.llama_model_default_params()
    model = lc.llama_model_load_from_file(job["gguf"].encode(), params)
    if not model:
        raise SystemExit(f"cannot load {job['gguf']}")
    rows = job["num_samples"]
    longest = max(len(p) for p in job["prompts"]) + job["max_new_tokens"]
    ctx_params = lc.llama_context_default_params()
    ctx_params.n_ctx = rows * longest + 64
    ctx_params.n_batch = max(rows, longest)
    ctx_params.n_seq_max = rows
    ctx_params.n_threads = ctx_params.n_threads_batch = job["threads"]
    ctx_params.kv_unified = True  # shared prompt cells across sequences
    context = lc.llama_init_from_model(model, ctx_params)
    return model, context


def chains(job, count, seed):
    out = []
    for row in range(count):
        chain = lc.llama_sampler_chain_init(
            lc.llama_sampler_chain_default_params()
        )
        lc.llama_sampler_chain_add(
            chain, lc.llama_sampler_init_top_p(job["top_p"], 1)
        )
        lc.llama_sampler_chain_add(
            chain, lc.llama_sampler_init_temp(job["temperature"])
        )
        lc.llama_sampler_chain_add(
            chain, lc.llama_sampler_init_dist(seed * 1000 + row)
        )
        out.append(chain)
    return out


def decode(context, batch, entries):
    """Decodes `(token, position, sequence, wants_logits)` entries."""
    batch.n_tokens = len(entries)
    for i, (token, pos, seq, logits) in enumerate(entries):
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits
    if lc.llama_decode(context, batch) != 0:
        raise SystemExit("llama_decode failed")


def sample_problem(job, context, batch, prompt, seed, pool):
    memory = lc.llama_get_memory(context)
    lc.llama_memory_clear(memory, True)
    n = job["num_samples"]
    last = len(prompt) - 1
    decode(context, batch, [(t, i, 0, i == last) for i, t in enumerate(prompt)])
    for row in range(1, n):
        lc.llama_memory_seq_cp(memory, 0, row, -1, -1)
    samplers = chains(job, n, seed)
    stops = set(job["stop_token_ids"])
    live = {row: last for row in range(n)}  # row -> its logits' index
    position, tokens = len(prompt), 0
    for _ in range(job["max_new_tokens"]):
        rows = list(live)

        def draw(row):
            return lc.llama_sampler_sample(samplers[row], context, live[row])

        drawn = list(pool.map(draw, rows)) if pool else map(draw, rows)
        entries = []
        for row, token in zip(rows, drawn):
            tokens += 1
            if token in stops:
                del live[row]
            else:
                entries.append((token, position, row, True))
        if not entries:
            break
        decode(context, batch, entries)
        live = {entry[2]: i for i, entry in enumerate(entries)}
        position += 1
    for chain in samplers:
        lc.llama_sampler_free(chain)
    return tokens


def main(path):
    with open(path) as f:
        job = json.load(f)
    model, context = load(job)
    size = max(job["num_samples"], max(len(p) for p in job["prompts"]))
    batch = lc.llama_batch_init(size, 0, 1)
    threads = job["sampling_threads"]
    pool = (
        concurrent.futures.ThreadPoolExecutor(threads) if threads > 1 else None
    )
    sample_problem(job, context, batch, job["prompts"][0], 0, pool)  # warm-up
    start = time.perf_counter()
    tokens = sum(
        sample_problem(job, context, batch, prompt, i + 1, pool)
        for i, prompt in enumerate(job["prompts"])
    )
    seconds = time.perf_counter() - start
    rows = len(job["prompts"]) * job["num_samples"]
    print(
        "RESULT "
        + json.dumps(
            {
                "seconds": seconds,
                "tokens": tokens,
                "mean_length": tokens / rows,
                "llama_cpp_python": lc.__version__,
                "sampling_threads": threads,
            }
        ),
        flush=True,
    )
    lc.llama_batch_free(batch)
    lc.llama_free(context)
    lc.llama_model_free(model)


if __name__ == "__main__":
    main(sys.argv[1])
