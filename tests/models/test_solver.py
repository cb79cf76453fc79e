import os
import warnings

import keras
import numpy as np
import pytest
from conftest import generation_batch
from conftest import tiny_solver
from keras import ops

from keras_mathft.data import PromptTemplate
from keras_mathft.models import EvaluatorPair
from keras_mathft.models import MathSolver
from keras_mathft.models import build_causal_lm
from keras_mathft.models import pair_inputs
from keras_mathft.models.compiled import compile_inference_function

PROMPTS = ["what is 1 + 1 ?", "what is the sum of 3 and 4 ?"]
RESPONSES = ["it is 2 .", "it is 7 ."]


def _loss(model, x, y, w):
    fn = compile_inference_function(
        model, lambda x, y, w: model.compute_loss(x, y, model(x), w)
    )
    return float(ops.convert_to_numpy(fn(x, y, w)))


def test_generation_loss_decreases_on_a_toy_batch(gemma_solver):
    x, y, w = generation_batch(gemma_solver, PROMPTS, RESPONSES)
    gemma_solver.compile(keras.optimizers.Adam(1e-2))
    history = gemma_solver.fit(x, y, sample_weight=w, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]


def test_loss_is_response_only(gemma_solver):
    x, y, w = generation_batch(gemma_solver, PROMPTS, RESPONSES)
    assert w.sum() > 0 and (w == 0).any()
    base = _loss(gemma_solver, x, y, w)
    vocab = gemma_solver.backbone.vocabulary_size
    y_prompt = np.where(w == 0, (y + 5) % vocab, y)
    assert _loss(gemma_solver, x, y_prompt, w) == base
    y_response = np.where(w == 1, (y + 5) % vocab, y)
    assert _loss(gemma_solver, x, y_response, w) != pytest.approx(base)


def test_label_log_probs_single_and_multi_token_agree():
    # The multi-token path (labels appended to the prompt) must give the
    # single-token path's numbers when the labels are single tokens.
    solver = tiny_solver("gemma")
    x = pair_inputs(solver, [EvaluatorPair("1 + 1 ?", "2", "3")], 24)
    ids = x["token_ids"][0]
    mask = x["padding_mask"][0]

    labels = solver.label_token_ids

    def both(ids, mask):
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        multi = [
            solver._label_sequence_log_prob(ids, mask, lengths, label, False)
            for label in labels
        ]
        return solver.label_log_probs(ids, mask), ops.stack(multi, axis=1)

    single, multi = compile_inference_function(solver, both)(ids, mask)
    np.testing.assert_allclose(
        ops.convert_to_numpy(single), ops.convert_to_numpy(multi), atol=1e-5
    )


def test_multi_token_labels_use_full_sequence_log_prob():
    solver = tiny_solver("gemma")
    template = PromptTemplate(
        correct_label=" it is correct", incorrect_label=" incorrect"
    )
    multi = MathSolver(solver.causal_lm, template)
    correct, incorrect = multi.label_token_ids
    assert len(correct) == 3 and len(incorrect) == 1
    text = template.evaluation_prompt("1 + 1 ?", "2")
    prompt = solver.tokenizer([text])
    prompt = [solver.tokenizer.start_token_id] + list(
        np.asarray(prompt)[0].tolist()
    )
    # Hand computation: teacher-forced log-probs of the label tokens.
    seq = np.array([prompt + list(correct)], "int32")
    ids = np.zeros((1, 40), "int32")
    n = len(prompt)
    ids[0, :n] = prompt

    def run(seq, ids, mask):
        logits = solver.causal_lm(
            {"token_ids": seq, "padding_mask": ops.ones_like(seq, "bool")}
        )
        return ops.log_softmax(logits, axis=-1), multi.label_log_probs(
            ids, mask
        )

    logp, got = compile_inference_function(multi, run)(seq, ids, ids != 0)
    logp = ops.convert_to_numpy(logp)[0]
    got = ops.convert_to_numpy(got)[0]
    expected = sum(logp[n - 1 + k, correct[k]] for k in range(3))
    assert got[0] == pytest.approx(expected, abs=1e-4)
    s = multi.score_solutions(["1 + 1 ?"], ["2"], sequence_length=48)
    assert s[0] == pytest.approx(1 / (1 + np.exp(got[1] - got[0])), 1e-5)


def test_keras_round_trip_keeps_template_scores_and_generations(tmp_path):
    template = PromptTemplate(generation="Q: {problem}\nA:")
    solver = MathSolver(tiny_solver("gemma").causal_lm, template)
    path = os.path.join(tmp_path, "solver.keras")
    solver.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no "compile() was not called"
        loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MathSolver)
    assert loaded.prompt_template == template
    problems, solutions = ["1 + 1 ?", "2 + 3 ?"], ["2", "4"]
    np.testing.assert_array_equal(
        solver.score_solutions(problems, solutions, sequence_length=32),
        loaded.score_solutions(problems, solutions, sequence_length=32),
    )
    solver.causal_lm.compile(sampler="greedy")
    loaded.causal_lm.compile(sampler="greedy")
    assert solver.generate_solutions(
        problems, max_length=16
    ) == loaded.generate_solutions(problems, max_length=16)


def test_preset_round_trip_keeps_template_and_scores(tmp_path):
    template = PromptTemplate(correct_label=" answer", incorrect_label=" boxed")
    solver = MathSolver(tiny_solver("gemma").causal_lm, template)
    solver.save_to_preset(str(tmp_path))
    loaded = MathSolver.from_preset(str(tmp_path))
    assert loaded.prompt_template == template
    np.testing.assert_array_equal(
        solver.score_solutions(["1 + 1 ?"], ["2"], sequence_length=32),
        loaded.score_solutions(["1 + 1 ?"], ["2"], sequence_length=32),
    )


def test_lora_trains_only_adapters(gemma_solver):
    gemma_solver.enable_lora(2)
    names = [v.path for v in gemma_solver.trainable_variables]
    assert names and all("lora" in n for n in names)
    frozen = [v.numpy().copy() for v in gemma_solver.non_trainable_weights]
    x, y, w = generation_batch(gemma_solver, PROMPTS, RESPONSES)
    gemma_solver.compile(keras.optimizers.Adam(1e-2))
    gemma_solver.fit(x, y, sample_weight=w, epochs=2, verbose=0)
    for before, v in zip(frozen, gemma_solver.non_trainable_weights):
        np.testing.assert_array_equal(before, v.numpy())


def test_gradient_accumulation_updates_every_second_step(gemma_solver):
    x, y, w = generation_batch(gemma_solver, PROMPTS, RESPONSES)
    kernel = gemma_solver.backbone.token_embedding.embeddings
    start = kernel.numpy().copy()
    optimizer = keras.optimizers.SGD(0.5, gradient_accumulation_steps=2)
    gemma_solver.compile(optimizer)
    gemma_solver.fit(x, y, sample_weight=w, batch_size=2, verbose=0)
    np.testing.assert_array_equal(start, kernel.numpy())
    gemma_solver.fit(x, y, sample_weight=w, batch_size=2, verbose=0)
    assert not np.array_equal(start, kernel.numpy())


def test_mixed_bfloat16_trains_with_float32_loss():
    solver = tiny_solver("gemma", dtype="mixed_bfloat16")
    assert solver.backbone.compute_dtype == "bfloat16"
    x, y, w = generation_batch(solver, PROMPTS, RESPONSES)
    solver.compile(keras.optimizers.Adam(1e-2))
    history = solver.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    scores = solver.score_solutions(["1 + 1 ?"], ["2"], sequence_length=32)
    assert scores.dtype == np.float32 and 0 < scores[0] < 1


def test_standard_callbacks_work_unchanged(gemma_solver, tmp_path):
    x, y, w = generation_batch(gemma_solver, PROMPTS, RESPONSES)
    gemma_solver.compile(keras.optimizers.Adam(1e-3))
    ckpt = os.path.join(tmp_path, "ckpt.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(ckpt),
        keras.callbacks.BackupAndRestore(os.path.join(tmp_path, "backup")),
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
    ]
    gemma_solver.fit(
        x, y, sample_weight=w, epochs=2, callbacks=callbacks, verbose=0
    )
    assert os.listdir(tmp_path / "tb")
    loaded = keras.saving.load_model(ckpt)
    np.testing.assert_allclose(
        _loss(loaded, x, y, w), _loss(gemma_solver, x, y, w), rtol=1e-6
    )


def test_bad_arguments_raise(gemma_solver):
    with pytest.raises(ValueError, match="Received: objective='rank'"):
        gemma_solver.compile(objective="rank")
    with pytest.raises(ValueError, match="keras_hub.models.CausalLM"):
        MathSolver(gemma_solver.backbone)
    with pytest.raises(ValueError, match="same length"):
        gemma_solver.score_solutions(["a"], [])


def test_trains_on_the_data_pipeline_with_the_embedded_tokenizer():
    from keras_mathft import data

    keras.utils.set_random_seed(0)
    lm = build_causal_lm(
        "gemma",
        data.embedded_tokenizer_proto(),
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        num_key_value_heads=1,
        intermediate_dim=32,
        sequence_length=128,
    )
    solver = MathSolver(lm)
    prompts, responses = data.sft_pairs(data.make_synthetic_problems(4))
    pairs = data.tokenize_pairs(solver.tokenizer, prompts, responses, 128)
    ds = data.make_sft_dataset(pairs, batch_size=4, bucket_lengths=(128,))
    solver.compile(keras.optimizers.Adam(1e-3))
    history = solver.fit(ds, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    scores = solver.score_solutions(
        prompts[:2], responses[:2], sequence_length=128
    )
    assert ((scores > 0) & (scores < 1)).all()
