"""Loading local Hugging Face checkpoint directories with `from_preset`."""

import json
import shutil

import numpy as np
import pytest
from conftest import tiny_solver
from safetensors.numpy import save_file

from keras_mathft.models import MathSolver

PROBLEMS, SOLUTIONS = ["1 + 1 ?", "2 + 3 ?"], ["it is 2", "5"]


def _scores(solver):
    return solver.score_solutions(PROBLEMS, SOLUTIONS, sequence_length=32)


def _llama_hf_weights(backbone):
    """HF tensor names of a keras-hub Llama3 backbone (inverse converter)."""

    def kernel_in_out(kernel):  # (in, ...) -> HF (out, in)
        k = kernel.numpy()
        return np.ascontiguousarray(k.reshape(k.shape[0], -1).T)

    def kernel_heads_out(kernel):  # (heads, dim, out) -> HF (out, in)
        k = kernel.numpy()
        return np.ascontiguousarray(k.reshape(-1, k.shape[-1]).T)

    emb = backbone.get_layer("token_embedding")
    out = {
        "model.embed_tokens.weight": emb.embeddings.numpy(),
        "lm_head.weight": np.ascontiguousarray(
            emb.reverse_embeddings.numpy().T
        ),
        "model.norm.weight": backbone.get_layer(
            "sequence_output_layernorm"
        ).scale.numpy(),
    }
    for i in range(backbone.num_layers):
        layer = backbone.get_layer(f"transformer_layer_{i}")
        att = layer._self_attention_layer
        p = f"model.layers.{i}."
        out[p + "input_layernorm.weight"] = (
            layer._self_attention_layernorm.scale.numpy()
        )
        out[p + "post_attention_layernorm.weight"] = (
            layer._feedforward_layernorm.scale.numpy()
        )
        for name, dense in (
            ("q", att._query_dense),
            ("k", att._key_dense),
            ("v", att._value_dense),
        ):
            out[p + f"self_attn.{name}_proj.weight"] = kernel_in_out(
                dense.kernel
            )
        out[p + "self_attn.o_proj.weight"] = kernel_heads_out(
            att._output_dense.kernel
        )
        for name, dense in (
            ("gate", layer._feedforward_gate_dense),
            ("up", layer._feedforward_intermediate_dense),
            ("down", layer._feedforward_output_dense),
        ):
            out[p + f"mlp.{name}_proj.weight"] = kernel_in_out(dense.kernel)
    return out


def _write_llama_folder(folder, solver):
    """A hand-written HF Llama folder of `solver`'s model; its config."""
    backbone, tokenizer = solver.backbone, solver.tokenizer
    save_file(_llama_hf_weights(backbone), str(folder / "model.safetensors"))
    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "vocab_size": backbone.vocabulary_size,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_query_heads,
        "num_key_value_heads": backbone.num_key_value_heads,
        "hidden_size": backbone.hidden_dim,
        "intermediate_size": backbone.intermediate_dim,
        "rope_theta": backbone.rope_max_wavelength,
        "tie_word_embeddings": False,
        "rms_norm_eps": 1e-6,
    }
    (folder / "config.json").write_text(json.dumps(config))
    vocab = dict(tokenizer.vocabulary)
    specials = [t for t in vocab if t.startswith("<|")]
    (folder / "tokenizer.json").write_text(
        json.dumps(
            {
                "model": {
                    "vocab": {k: v for k, v in vocab.items()},
                    "merges": list(tokenizer.merges),
                },
                "added_tokens": [
                    {"id": vocab[t], "content": t} for t in specials
                ],
            }
        )
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}
        )
    )
    return config


def test_local_llama_hf_directory_matches_the_source_weights(tmp_path):
    solver = tiny_solver("llama3")
    backbone = solver.backbone
    config = _write_llama_folder(tmp_path, solver)
    loaded = MathSolver.from_preset(str(tmp_path))
    assert type(loaded.causal_lm) is type(solver.causal_lm)
    assert loaded.label_token_ids == solver.label_token_ids
    np.testing.assert_allclose(_scores(loaded), _scores(solver), atol=1e-5)

    # A config edited to fewer layers than the tensors hold is refused
    # before loading...
    edited = {**config, "num_hidden_layers": backbone.num_layers - 1}
    (tmp_path / "config.json").write_text(json.dumps(edited))
    with pytest.raises(ValueError, match="num_hidden_layers=1, but"):
        MathSolver.from_preset(str(tmp_path))
    # ...a tensor no variable uses, after...
    (tmp_path / "config.json").write_text(json.dumps(config))
    weights = _llama_hf_weights(backbone)
    weights["model.extra.weight"] = np.zeros(3, "float32")
    save_file(weights, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="does not use.*model.extra"):
        MathSolver.from_preset(str(tmp_path))
    # ...and so are weights that are not finite.
    (tmp_path / "config.json").write_text(json.dumps(config))
    weights = _llama_hf_weights(backbone)
    weights["model.layers.0.mlp.up_proj.weight"][0, :3] = np.nan
    save_file(weights, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="NaN or infinite values in"):
        MathSolver.from_preset(str(tmp_path))


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llama_hf")
    return folder, _write_llama_folder(folder, tiny_solver("llama3"))


@pytest.mark.parametrize(
    "edit, match",
    [
        # ZeroDivisionError in keras-hub's converter before.
        ({"num_attention_heads": 0}, "num_attention_heads.*positive integer"),
        # TypeError.
        ({"num_hidden_layers": float("nan")}, "num_hidden_layers.*finite"),
        # keras-hub built 10**12 layers (MemoryError).
        ({"num_hidden_layers": 10**12}, "num_hidden_layers=1000000000000"),
        # Loaded silently with near-constant logits.
        ({"rms_norm_eps": 1e30}, "rms_norm_eps.*< 1"),
        # keras-hub's assign error, which can abort the process on JAX.
        ({"hidden_size": 32}, "must have shape .*for the sizes"),
        # AttributeError.
        ("[]", "JSON object"),
        ("{garbage", "JSON object"),
    ],
)
def test_a_config_that_does_not_fit_is_refused_before_loading(
    llama_folder, tmp_path, edit, match
):
    source, config = llama_folder
    folder = tmp_path / "hf"
    shutil.copytree(source, folder)
    text = edit if isinstance(edit, str) else json.dumps({**config, **edit})
    (folder / "config.json").write_text(text)
    with pytest.raises(ValueError, match=match):
        MathSolver.from_preset(str(folder))


def test_truncated_weights_are_refused_by_name(llama_folder, tmp_path):
    """safetensors' own error type escaped before."""
    folder = tmp_path / "hf"
    shutil.copytree(llama_folder[0], folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(ValueError, match="model.safetensors.*cannot be read"):
        MathSolver.from_preset(str(folder))
