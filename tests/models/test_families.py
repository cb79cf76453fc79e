"""Every family: it trains and scores through MathSolver, and its record
(`keras_mathft/models/families/<name>.py`) holds what the importer, the
exporter and the sampler read."""

import pathlib

import keras
import numpy as np
import pytest
from conftest import generation_batch
from conftest import tiny_solver

from keras_mathft.models import FAMILIES
from keras_mathft.models import build_causal_lm
from keras_mathft.models import families
from keras_mathft.models import family_of
from keras_mathft.models.hf_weights import hf_shape
from keras_mathft.models.hf_weights import hf_weight_map


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_fits_and_scores(family):
    solver = tiny_solver(family)
    x, y, w = generation_batch(solver, ["1 + 1 ?"], ["it is 2 ."], 16)
    solver.compile(keras.optimizers.Adam(1e-3))
    history = solver.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    scores = solver.score_solutions(
        ["1 + 1 ?"], ["2"], batch_size=1, sequence_length=48
    )
    assert 0 < scores[0] < 1


def test_unknown_family_and_wrong_tokenizer_raise():
    with pytest.raises(ValueError, match="Received: family='t5'"):
        build_causal_lm("t5", b"")
    with pytest.raises(ValueError, match="Llama3Tokenizer"):
        build_causal_lm("llama3", b"proto bytes")


@pytest.mark.parametrize(
    "family", sorted(n for n, f in FAMILIES.items() if f.hf_weights)
)
def test_hf_layout_names_every_weight_once(family):
    backbone = tiny_solver(family).causal_lm.backbone
    entries = hf_weight_map(backbone)
    paths = [variable.path for variable, _, _ in entries]
    names = [name for _, name, _ in entries]
    assert sorted(paths) == sorted(w.path for w in backbone.weights)
    assert len(set(names)) == len(names)
    for variable, _, layout in entries:
        assert len(hf_shape(tuple(variable.shape), layout)) in (1, 2)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_stop_tokens_are_the_end_and_the_records_turn_ends(family):
    causal_lm = tiny_solver(family).causal_lm
    tokenizer = causal_lm.preprocessor.tokenizer
    record = family_of(causal_lm)
    assert record is FAMILIES[family]
    vocabulary = set(tokenizer.get_vocabulary())
    expected = {tokenizer.end_token_id} | {
        tokenizer.token_to_id(t)
        for t in record.turn_end_tokens
        if t in vocabulary
    }
    if getattr(tokenizer, "end_token2_id", None) is not None:
        expected.add(tokenizer.end_token2_id)
    assert set(families.stop_token_ids(causal_lm)) == expected


def test_one_module_per_family():
    folder = pathlib.Path(families.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - {
        "__init__",
        "cache_attention",
        "family",
        "gguf_config",
    }
    assert modules == set(FAMILIES)
    with pytest.raises(ValueError, match="No family record"):
        family_of(keras.layers.Dense(2))
