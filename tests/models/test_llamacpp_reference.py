"""The real GGUF files against llama.cpp, the engine they are made for.

`gguf_reference/make_llamacpp_reference.py` ran llama.cpp (its Python
binding, built from PyPI's source package) once and stored what it
computed, so CI needs no llama.cpp:

- token ids of every MATH500 problem and solution (1,000 texts) for both
  real files: ours must be identical (SmolLM2 is byte-level BPE with the
  `smollm` pre-tokenizer, Gemma 3 SentencePiece);
- for SmolLM2, llama.cpp's next-token log-probs (top 8 at every position
  of 24 problem + solution texts, 3,035 positions) from its own float32
  copy of the file (the dequantized weights, as ours), and the mean NLL of
  that copy and of the Q4_1 file itself (quantized kernels).

Measured (JAX; see the closing figures in benchmarks/README.md): max
|ours - llama.cpp float32| of log-probs 1e-5 scale, mean NLL equal to
llama.cpp's float32 copy within 1e-5 relative, and within 0.1% of its
quantized run, which rounds activations to 8 bits. The tolerances: 5e-4
per log-prob (float32 noise with room for other CPUs; a conversion error
moves log-probs by 0.1 or more) and 1% for the mean NLL (the issue's bound
between a quantized file and its dequantized float32 model).
"""

import json
import pathlib

import keras
import numpy as np
import pytest
from real_model import coarse_kl
from real_model import gemma3_gguf_path
from real_model import next_token_log_probs
from real_model import smollm2_gguf_path
from real_model import token_digest

from keras_mathft.models import FileBPETokenizer
from keras_mathft.models import MathSolver
from keras_mathft.models import convert_gguf
from keras_mathft.models import families

HERE = pathlib.Path(__file__).parent / "gguf_reference"
SMOLLM2 = "smollm2_135m_instruct_q4_1"
LOGP_ATOL = 5e-4
KL_MAX = 1e-8
NLL_RTOL = 0.01


def _reference(name):
    return json.loads((HERE / f"{name}.llamacpp.json").read_text())


@pytest.fixture(scope="module")
def smollm2_preset():
    return convert_gguf(smollm2_gguf_path())


@pytest.mark.real_data
@pytest.mark.parametrize(
    "name, path",
    [(SMOLLM2, smollm2_gguf_path), ("gemma3_270m_q4_k_m", gemma3_gguf_path)],
)
def test_token_ids_equal_llama_cpp_on_every_math500_text(
    name, path, shared_data
):
    import keras_hub

    reference = _reference(name)
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(convert_gguf(path()))
    math500 = shared_data / "prm800k" / "math_splits" / "test.jsonl"
    records = [json.loads(line) for line in math500.open(encoding="utf-8")]
    keys = [
        f"{r['unique_id']}:{f}"
        for r in records
        for f in ("problem", "solution")
    ]
    texts = [r[f] for r in records for f in ("problem", "solution")]
    expected = reference["text_token_digests"]
    assert sorted(keys) == sorted(expected)
    mismatched = [
        key
        for key, ids in zip(keys, tokenizer(texts))
        if [len(ids), token_digest(np.asarray(ids).tolist())] != expected[key]
    ]
    assert not mismatched, f"{len(mismatched)} differ: {mismatched[:5]}"
    # The start token is added exactly when llama.cpp adds it.
    assert (tokenizer.start_token_id is not None) == reference["add_bos"]


def test_smollm2_log_probs_and_nll_match_llama_cpp(smollm2_preset):
    import keras_hub

    reference = _reference(SMOLLM2)
    arrays = dict(np.load(HERE / f"{SMOLLM2}.npz"))
    causal_lm = keras_hub.models.CausalLM.from_preset(smollm2_preset)
    lengths = arrays["lengths"]
    ours, argmax = next_token_log_probs(
        causal_lm, arrays["token_ids"], lengths, arrays["top_ids"]
    )
    worst, worst_kl, nll = 0.0, 0.0, []
    for row, n in enumerate(lengths):
        ref = arrays["top_logp"][row, :n]
        mine = ours[row, :n]
        worst = max(worst, float(np.abs(mine - ref).max()))
        worst_kl = max(worst_kl, float(coarse_kl(ref, mine).max()))
        clear = ref[:, 0] - ref[:, 1] > 2 * LOGP_ATOL
        top1 = arrays["top_ids"][row, :n, 0]
        assert (argmax[row, :n] == top1)[clear].all(), row
        nll += list(_target_nll(causal_lm, arrays["token_ids"][row, :n]))
    mean_nll = float(np.mean(nll))
    print(f"max |dlogp| {worst:.2e}, max KL {worst_kl:.2e}, NLL {mean_nll}")
    assert worst <= LOGP_ATOL and worst_kl <= KL_MAX, (worst, worst_kl)
    assert len(nll) == reference["mean_nll"]["positions"]
    for run in ("float32", "quantized"):
        expected = reference["mean_nll"][run]
        assert mean_nll == pytest.approx(expected, rel=NLL_RTOL), run


def _target_nll(causal_lm, ids):
    token_ids = np.asarray(ids, "int32")[None]
    logits = keras.ops.convert_to_numpy(
        causal_lm(
            {"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)}
        )
    )[0].astype("float64")
    top = logits.max(-1, keepdims=True)
    logp = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
    return -logp[np.arange(len(ids) - 1), ids[1:]]


def test_smollm2_preset_keeps_its_tokenizer_and_tied_head(
    smollm2_preset, tmp_path
):
    solver = MathSolver.from_preset(smollm2_preset)
    tokenizer = solver.causal_lm.preprocessor.tokenizer
    assert isinstance(tokenizer, FileBPETokenizer)
    assert tokenizer.pretokenizer == "smollm"
    # The file adds no start token; `<|im_end|>` ends a turn and the text.
    assert tokenizer.start_token_id is None
    assert tokenizer.id_to_token(tokenizer.end_token_id) == "<|im_end|>"
    assert families.stop_token_ids(solver) == [tokenizer.end_token_id]
    assert solver.causal_lm.backbone.tie_word_embeddings
    solver.save_to_preset(str(tmp_path / "saved"))
    again = MathSolver.from_preset(str(tmp_path / "saved"))
    assert again.causal_lm.backbone.tie_word_embeddings
    loaded = again.causal_lm.preprocessor.tokenizer
    assert loaded.get_config() == tokenizer.get_config()
    text = "Enter  your answer.\n\n12 + 3"
    np.testing.assert_array_equal(loaded(text), tokenizer(text))
    ids = np.array([[9, 8, 7, 6]], "int32")
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(again.causal_lm(inputs)),
        keras.ops.convert_to_numpy(solver.causal_lm(inputs)),
    )


def test_smollm2_hf_export_reloads_and_tokenizes_alike(
    smollm2_preset, tmp_path
):
    import tokenizers

    solver = MathSolver.from_preset(smollm2_preset)
    folder = solver.export_hf(tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["tie_word_embeddings"] is True
    assert config["rms_norm_eps"] == pytest.approx(1e-5)
    # keras-hub's HF loader, with the epsilon it leaves out put back.
    again = MathSolver.from_preset(folder)
    ids = np.array([[504, 1112, 216, 33, 2]], "int32")
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again.causal_lm(inputs)),
        keras.ops.convert_to_numpy(solver.causal_lm(inputs)),
        atol=1e-4,
    )
    # transformers' tokenizer library reads the file's pre-tokenizer back.
    exported = tokenizers.Tokenizer.from_file(f"{folder}/tokenizer.json")
    ours = solver.causal_lm.preprocessor.tokenizer
    for text in ("Enter  your answer.\n\n12 + 3", "x^{2}  =\t-1 ."):
        assert exported.encode(text).ids == np.asarray(ours(text)).tolist()
