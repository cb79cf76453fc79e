"""Tiny tokenizers, models and batches for the model tests."""

import io

import keras
import keras_hub
import numpy as np
import pytest
import sentencepiece

from keras_mathft.models import FAMILIES
from keras_mathft.models import MathSolver
from keras_mathft.models import build_causal_lm

CORPUS = [
    "Problem: What is 1 + 1 ? Solution: 1 + 1 = 2 . The answer is 2 .",
    "Here is a math problem: 2 + 3 ? Here is a candidate solution: 5",
    "The above candidate solution is correct",
    "The above candidate solution is incorrect",
    "what is the sum of 3 and 4 ? it is 7 . boxed answer",
]
BPE_SPECIALS = [
    "<|endoftext|>",
    "<|im_end|>",
    "<|im_start|>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]
SENTENCEPIECE_FAMILIES = tuple(
    sorted(name for name, f in FAMILIES.items() if f.sentencepiece)
)
TINY = dict(
    num_layers=2,
    hidden_dim=16,
    num_heads=2,
    num_key_value_heads=1,
    intermediate_dim=32,
    sequence_length=48,
)


def sentencepiece_proto(family="gemma"):
    """A word-level SentencePiece proto over a tiny corpus."""
    if family == "mistral":
        specials = dict(
            pad_id=-1,
            unk_id=0,
            bos_id=1,
            eos_id=2,
            unk_piece="<unk>",
            bos_piece="<s>",
            eos_piece="</s>",
        )
    else:
        specials = dict(
            pad_id=0,
            bos_id=1,
            eos_id=2,
            unk_id=3,
            pad_piece="<pad>",
            bos_piece="<bos>",
            eos_piece="<eos>",
            unk_piece="<unk>",
        )
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=buffer,
        vocab_size=48,
        hard_vocab_limit=False,
        model_type="WORD",
        user_defined_symbols=["<start_of_image>", "<end_of_image>", "<img>"]
        if family == "gemma3"
        else [],
        **specials,
    )
    return buffer.getvalue()


def _bytes_to_unicode():
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\xa1"), ord("\xac") + 1))
        + list(range(ord("\xae"), ord("\xff") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def bpe_tokenizer(family):
    """A byte-level BPE tokenizer: every byte plus a few merges."""
    symbols = _bytes_to_unicode()
    vocab = {}
    for token in BPE_SPECIALS + symbols:
        vocab.setdefault(token, len(vocab))
    merges = ["Ġ c", "Ġ i", "o r", "r e", "c t", "n c", "Ġc or", "Ġcor re"]
    merges += ["Ġcorre ct", "Ġi nc", "or re", "orre ct", "Ġinc orrect"]
    for merge in merges:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    cls = getattr(keras_hub.models, FAMILIES[family].tokenizer)
    return cls(vocabulary=vocab, merges=merges)


def tiny_tokenizer(family):
    if family in SENTENCEPIECE_FAMILIES:
        return sentencepiece_proto(family)
    return bpe_tokenizer(family)


def tiny_solver(family="gemma", seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    config = {**TINY, **kwargs}
    lm = build_causal_lm(family, tiny_tokenizer(family), **config)
    return MathSolver(lm)


def generation_batch(solver, prompts, responses, sequence_length=32):
    """A CausalLMPreprocessor-format batch with response-only weights."""
    tok = solver.tokenizer
    start, end = tok.start_token_id, tok.end_token_id
    pad = getattr(tok, "pad_token_id", 0) or 0
    b = len(prompts)
    ids = np.full((b, sequence_length + 1), pad, "int32")
    mask = np.zeros((b, sequence_length + 1), bool)
    weight = np.zeros((b, sequence_length + 1), "float32")
    for i, (p, r) in enumerate(zip(prompts, responses)):
        p_ids = ([start] if start is not None else []) + list(
            np.asarray(tok(p)).tolist()
        )
        r_ids = list(np.asarray(tok(r)).tolist()) + [end]
        seq = (p_ids + r_ids)[: sequence_length + 1]
        ids[i, : len(seq)] = seq
        mask[i, : len(seq)] = True
        weight[i, len(p_ids) : len(seq)] = 1.0
    x = {"token_ids": ids[:, :-1], "padding_mask": mask[:, :-1]}
    return x, ids[:, 1:], weight[:, 1:]


@pytest.fixture
def gemma_solver():
    return tiny_solver("gemma")
