"""Tiny GGUF files written the way llama.cpp writes them, for the tests.

`write_gguf` turns a tiny keras-hub causal LM into a GGUF file with
`gguf.GGUFWriter`, following llama.cpp's `convert_hf_to_gguf.py` from the
keras weights: HF `(out, in)` layout, Q/K rows permuted for the `llama`
architecture, Gemma norms stored as `w + 1`, `<unk>` marked CONTROL and
user-defined runs of spaces spelled with real spaces. It shares no code
with `keras_mathft.models.gguf`, so a round trip through both checks the
importer against llama.cpp's conventions, not against itself.
"""

import gguf
import numpy as np
from conftest import BPE_SPECIALS
from conftest import TINY as CONFTEST_TINY
from conftest import bpe_tokenizer
from hf_models import bpe_sentencepiece_proto
from sentencepiece import sentencepiece_model_pb2

from keras_mathft.models import build_causal_lm
from keras_mathft.models import family_of

# keras-hub family -> (GGUF architecture, tokenizer.ggml.model, and for
# BPE the pre-tokenizer llama.cpp's converter names for that family).
ARCHITECTURES = {
    "gemma3": ("gemma3", "llama", None),
    "llama3": ("llama", "gpt2", "llama-bpe"),
    "mistral": ("llama", "llama", None),
    "qwen": ("qwen2", "gpt2", "qwen2"),
    "qwen3": ("qwen3", "gpt2", "qwen2"),
}
# The shared tiny size, with a longer sequence for the tests here.
TINY = {**CONFTEST_TINY, "sequence_length": 32}
TEXTS = [
    "what is the sum of 3 and 4 ? it is 7 .",
    "The above  candidate solution is correct",  # two spaces: SPACE_RUN
    "x = 12 é €",  # bytes outside the training corpus
]


def tiny_causal_lm(family, **kwargs):
    """A tiny keras-hub causal LM whose tokenizer a GGUF file can hold."""
    if family in ("gemma3", "mistral"):
        tokenizer = bpe_sentencepiece_proto(family)
    else:
        tokenizer = bpe_tokenizer(family)
    extra = {}
    if family == "gemma3":
        extra = dict(
            use_post_ffw_norm=True,
            use_post_attention_norm=True,
            use_sliding_window_attention=True,
            sliding_window_size=8,
        )
    if family == "mistral":
        extra = dict(sliding_window=None)
    return build_causal_lm(family, tokenizer, **{**TINY, **extra, **kwargs})


def write_gguf(causal_lm, path, architecture=None, extra_tensors=None):
    """Writes `causal_lm` as a float32 GGUF file; returns the path."""
    family = family_of(causal_lm).name
    arch, tokenizer_model, pre = ARCHITECTURES[family]
    arch = architecture or arch
    backbone = causal_lm.backbone
    writer = gguf.GGUFWriter(str(path), arch)
    _write_config(writer, arch, family, backbone)
    _write_tokenizer(
        writer, tokenizer_model, pre, causal_lm.preprocessor.tokenizer
    )
    weights = {
        w.path: np.asarray(w.numpy(), "float32") for w in backbone.weights
    }
    tensors = _gemma3_tensors if family == "gemma3" else _decoder_tensors
    for name, array in tensors(family, backbone, weights).items():
        writer.add_tensor(name, np.ascontiguousarray(array, "float32"))
    if getattr(backbone, "rope_frequency_adjustment_factor", None):
        writer.add_tensor("rope_freqs.weight", _llama3_rope_freqs(backbone))
    for name, array in (extra_tensors or {}).items():
        writer.add_tensor(name, np.asarray(array, "float32"))
    return _finish(writer, path)


def _write_config(writer, arch, family, backbone):
    heads = backbone.num_query_heads
    hidden = backbone.hidden_dim
    head_dim = getattr(backbone, "head_dim", None) or hidden // heads
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_block_count(backbone.num_layers)
    writer.add_feed_forward_length(backbone.intermediate_dim)
    writer.add_head_count(heads)
    writer.add_head_count_kv(backbone.num_key_value_heads)
    writer.add_layer_norm_rms_eps(backbone.layer_norm_epsilon)
    if family == "gemma3":
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_rope_freq_base(1_000_000.0)
        writer.add_sliding_window(backbone.sliding_window_size)
        return
    writer.add_rope_freq_base(backbone.rope_max_wavelength)
    if family == "qwen3":
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    else:
        writer.add_rope_dimension_count(head_dim)


def _write_tokenizer(writer, model, pre, tokenizer):
    writer.add_tokenizer_model(model)
    if model == "llama":
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(tokenizer.proto)
        tokens, scores, types = [], [], []
        for piece in proto.pieces:
            text, kind = piece.piece, piece.type
            if kind == 2:  # llama.cpp writes <unk> as CONTROL.
                kind = 3
            if kind == 4 and not text.strip("\u2581"):
                text = " " * len(text)
            tokens.append(text)
            scores.append(piece.score)
            types.append(kind)
        spec = proto.trainer_spec
        writer.add_token_list(tokens)
        writer.add_token_scores(scores)
        writer.add_token_types(types)
        writer.add_bos_token_id(spec.bos_id)
        writer.add_eos_token_id(spec.eos_id)
        writer.add_unk_token_id(spec.unk_id)
        if spec.pad_id >= 0:
            writer.add_pad_token_id(spec.pad_id)
        writer.add_add_space_prefix(proto.normalizer_spec.add_dummy_prefix)
        return
    by_id = sorted(tokenizer.vocabulary.items(), key=lambda item: item[1])
    vocab = [token for token, _ in by_id]
    writer.add_token_list(vocab)
    writer.add_token_types(
        [3 if token in BPE_SPECIALS else 1 for token in vocab]
    )
    writer.add_token_merges(list(tokenizer.merges))
    writer.add_tokenizer_pre(pre)
    start = tokenizer.start_token_id
    writer.add_bos_token_id(tokenizer.end_token_id if start is None else start)
    writer.add_add_bos_token(start is not None)
    writer.add_eos_token_id(tokenizer.end_token_id)


def _llama3_rope_freqs(backbone):
    # llama.cpp's LlamaModel writes Llama 3.1 RoPE scaling as one divisor
    # per frequency, computed like this.
    head_dim = backbone.hidden_dim // backbone.num_query_heads
    inverse = backbone.rope_max_wavelength ** -(
        np.arange(0, head_dim, 2) / head_dim
    )
    factor = backbone.rope_frequency_adjustment_factor
    low = backbone.rope_low_freq_factor
    high = backbone.rope_high_freq_factor
    length = backbone.rope_pretraining_sequence_length
    divisors = []
    for wavelength in 2 * np.pi / inverse:
        if wavelength < length / high:
            divisors.append(1.0)
        elif wavelength > length / low:
            divisors.append(factor)
        else:
            smooth = (length / wavelength - low) / (high - low)
            divisors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(divisors, "float32")


def _hf_query(kernel):
    # keras (hidden, heads, head_dim) -> HF (heads * head_dim, hidden).
    return kernel.reshape(kernel.shape[0], -1).T


def _hf_output(kernel):
    # keras (heads, head_dim, hidden) -> HF (hidden, heads * head_dim).
    return kernel.reshape(-1, kernel.shape[-1]).T


def _llama_permute(weight, heads):
    # llama.cpp's LlamaModel.permute: rotary halves interleaved per head.
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, -1)
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _decoder_tensors(family, backbone, weights):
    arch = ARCHITECTURES[family][0]
    out = {
        "token_embd.weight": weights["token_embedding/embeddings"],
        "output_norm.weight": weights["sequence_output_layernorm/scale"],
    }
    if "token_embedding/reverse_embeddings" in weights:
        out["output.weight"] = weights["token_embedding/reverse_embeddings"].T
    for i in range(backbone.num_layers):
        w = {
            key.split("/", 1)[1]: value
            for key, value in weights.items()
            if key.startswith(f"transformer_layer_{i}/")
        }
        q = _hf_query(w["self_attention/query/kernel"])
        k = _hf_query(w["self_attention/key/kernel"])
        if arch == "llama":
            q = _llama_permute(q, backbone.num_query_heads)
            k = _llama_permute(k, backbone.num_key_value_heads)
        block = {
            "attn_norm.weight": w["self_attention_layernorm/scale"],
            "attn_q.weight": q,
            "attn_k.weight": k,
            "attn_v.weight": _hf_query(w["self_attention/value/kernel"]),
            "attn_output.weight": _hf_output(
                w["self_attention/attention_output/kernel"]
            ),
            "ffn_norm.weight": w["feedforward_layernorm/scale"],
            "ffn_gate.weight": w["feedforward_gate_dense/kernel"].T,
            "ffn_up.weight": w["feedforward_intermediate_dense/kernel"].T,
            "ffn_down.weight": w["feedforward_output_dense/kernel"].T,
        }
        if family == "qwen":
            for x, name in (("q", "query"), ("k", "key"), ("v", "value")):
                block[f"attn_{x}.bias"] = w[f"self_attention/{name}/bias"]
                block[f"attn_{x}.bias"] = block[f"attn_{x}.bias"].reshape(-1)
        if family == "qwen3":
            block["attn_q_norm.weight"] = w[
                "self_attention/query_dense_layernorm/scale"
            ]
            block["attn_k_norm.weight"] = w[
                "self_attention/key_dense_layernorm/scale"
            ]
        out.update({f"blk.{i}.{k}": v for k, v in block.items()})
    return out


def _gemma3_tensors(family, backbone, weights):
    del family
    out = {
        "token_embd.weight": weights["token_embedding/embeddings"],
        "output_norm.weight": weights["final_normalization/scale"] + 1.0,
    }
    for i in range(backbone.num_layers):
        w = {
            key.split("/", 1)[1]: value
            for key, value in weights.items()
            if key.startswith(f"decoder_block_{i}/")
        }

        def heads(kernel):
            # keras (heads, hidden, head_dim) -> HF (heads * head_dim, hidden)
            return kernel.transpose(0, 2, 1).reshape(-1, kernel.shape[1])

        block = {
            "attn_norm.weight": w["pre_attention_norm/scale"] + 1.0,
            "attn_q.weight": heads(w["attention/query/kernel"]),
            "attn_k.weight": heads(w["attention/key/kernel"]),
            "attn_v.weight": heads(w["attention/value/kernel"]),
            "attn_q_norm.weight": w["attention/query_norm/scale"] + 1.0,
            "attn_k_norm.weight": w["attention/key_norm/scale"] + 1.0,
            "attn_output.weight": _hf_output(
                w["attention/attention_output/kernel"]
            ),
            "post_attention_norm.weight": w["post_attention_norm/scale"] + 1.0,
            "ffn_norm.weight": w["pre_ffw_norm/scale"] + 1.0,
            "ffn_gate.weight": w["ffw_gating/kernel"].T,
            "ffn_up.weight": w["ffw_gating_2/kernel"].T,
            "ffn_down.weight": w["ffw_linear/kernel"].T,
            "post_ffw_norm.weight": w["post_ffw_norm/scale"] + 1.0,
        }
        out.update({f"blk.{i}.{k}": v for k, v in block.items()})
    return out


def rewrite_gguf(source, path, fields=None, tensors=None, drop=()):
    """Copies a GGUF file with some fields or tensors replaced or dropped.

    Args:
        source: path of a file `write_gguf` wrote.
        path: the copy.
        fields: dict, key -> new value (written with the field's own type;
            a new key's type is taken from the value).
        tensors: dict, tensor name -> new array (float32; its GGUF shape
            is the array's shape reversed, as llama.cpp writes it).
        drop: names of fields and tensors to leave out.

    Returns:
        `path`.
    """
    fields, tensors = dict(fields or {}), dict(tensors or {})
    reader = gguf.GGUFReader(str(source))
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(
        str(path), fields.pop("general.architecture", arch)
    )
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key in drop:
            continue
        value = fields.pop(key, field.contents())
        sub = field.types[-1] if len(field.types) > 1 else None
        writer.add_key_value(key, value, field.types[0], sub_type=sub)
    for key, value in fields.items():
        _add_new_field(writer, key, value)
    for tensor in reader.tensors:
        if tensor.name in drop:
            continue
        array = tensors.pop(tensor.name, None)
        if array is None:
            array = np.array(tensor.data)
        writer.add_tensor(tensor.name, np.asarray(array, "float32"))
    for name, array in tensors.items():
        writer.add_tensor(name, np.asarray(array, "float32"))
    return _finish(writer, path)


def _add_new_field(writer, key, value):
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    else:
        writer.add_string(key, value)


def _finish(writer, path):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
