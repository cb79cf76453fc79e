"""The process evaluator: step scores in one pass, losses, training."""

import keras
import numpy as np
import pytest

from keras_mathft import data
from keras_mathft import models
from keras_mathft import sampling
from keras_mathft.data import exact_step_labels
from keras_mathft.data import split_steps
from keras_mathft.models.process import ProcessEvaluator
from keras_mathft.models.process import aggregate_step_scores
from keras_mathft.models.process_data import ProcessExample
from keras_mathft.models.process_data import build_process_pairs
from keras_mathft.models.process_data import example_inputs
from keras_mathft.models.process_data import pair_step_inputs
from keras_mathft.models.process_data import tokenize_steps

LENGTH = 128


def _solver(seed=0):
    keras.utils.set_random_seed(seed)
    lm = models.build_causal_lm(
        "gemma",
        data.embedded_tokenizer_proto(),
        num_layers=1,
        hidden_dim=16,
        sequence_length=LENGTH,
    )
    return models.MathSolver(lm)


@pytest.fixture(scope="module")
def evaluator():
    return ProcessEvaluator(_solver())


@pytest.fixture(scope="module")
def problems():
    return data.make_synthetic_problems(8, seed=0, levels=[1, 2])


def test_one_pass_reads_each_prefix_alone(evaluator, problems):
    # Step s's score in one pass equals the score of the solution cut
    # after step s: the boundaries are right and nothing leaks backward.
    p = problems[0]
    steps = split_steps(p.solution)
    assert len(steps) >= 2
    whole = evaluator.score_steps([p.problem], [p.solution])[0]
    prefixes = [p.solution[: s.end] for s in steps]
    alone = evaluator.score_steps([p.problem] * len(prefixes), prefixes)
    assert len(whole) == len(steps)
    np.testing.assert_allclose(whole, [a[-1] for a in alone], atol=1e-5)
    # And every prefix keeps the scores of its own steps.
    for k, a in enumerate(alone):
        np.testing.assert_allclose(a, whole[: k + 1], atol=1e-5)


def test_step_positions_are_the_step_ends(evaluator, problems):
    solver = evaluator.solver
    tokenizer = solver.tokenizer
    texts = [p.solution for p in problems[:3]] + [""]
    ids, positions, kept = tokenize_steps(
        tokenizer, solver.prompt_template, problems[:4], texts, LENGTH
    )
    for row, ends, text, n in zip(ids, positions, texts, kept):
        if not text:
            assert n == 0 and len(ends) == 1
            continue
        assert n == len(split_steps(text)) == len(ends)
        assert ends == sorted(ends) and ends[-1] == len(row) - 1
        for end in ends[:-1]:  # Lines end with their newline token.
            assert tokenizer.id_to_token(row[end]) == "\n"
        assert row[0] == tokenizer.start_token_id
    # Text past the sequence length is cut with the steps it holds.
    ids, positions, kept = tokenize_steps(
        tokenizer, solver.prompt_template, problems[:1], texts[:1], 40
    )
    assert len(ids[0]) == 40 and all(e < 40 for e in positions[0])
    assert kept[0] < len(split_steps(texts[0]))


def _examples(problems):
    out = []
    for p in problems:
        wrong = p.solution.replace(" = ", " = 1", 1)
        for text in (p.solution, wrong):
            labels = exact_step_labels(p, text).labels
            out.append(ProcessExample(p.problem, text, labels))
    return out


def test_losses_are_the_hand_computed_ones(evaluator, problems):
    pairs = build_process_pairs(_examples(problems[:2]))
    x, y, weight = pair_step_inputs(evaluator.solver, pairs, LENGTH, 4)
    rng = np.random.default_rng(0)
    lp = np.log(rng.uniform(0.05, 0.5, size=y.shape + (2,))).astype("float32")
    expected_xent = -np.sum(
        weight * (y * lp[..., 0] + (1 - y) * lp[..., 1])
    ) / np.sum(weight)
    rows = np.arange(len(y))
    good = lp[rows, 0, x["pair_steps"][:, 0]]
    bad = lp[rows, 1, x["pair_steps"][:, 1]]

    def log_score(v):
        return -np.log1p(np.exp(v[:, 1] - v[:, 0]))

    expected_margin = np.mean(
        np.maximum(0.0, log_score(bad) - log_score(good) + 0.5)
    )
    for loss, value in (
        ("xent", expected_xent),
        ("margin", expected_margin),
        ("mixture", 0.25 * expected_margin + 0.75 * expected_xent),
    ):
        evaluator.compile(
            "adam", evaluator_loss=loss, margin=0.5, mixture_weight=0.25
        )
        got = evaluator.compute_loss(x, y, lp, weight)
        np.testing.assert_allclose(float(got), value, rtol=1e-5)


def test_margin_needs_pairs_and_labels(evaluator, problems):
    x, y, weight = example_inputs(
        evaluator.solver, _examples(problems[:1]), LENGTH, 4
    )
    lp = np.zeros(y.shape + (2,), "float32")
    evaluator.compile("adam", evaluator_loss="margin")
    with pytest.raises(ValueError, match="pair_steps"):
        evaluator.compute_loss(x, y, lp, weight)
    evaluator.compile("adam", evaluator_loss="xent")
    with pytest.raises(ValueError, match="Received"):
        evaluator.compute_loss(x, None, lp, None)


@pytest.mark.slow
def test_training_on_step_labels_separates_good_and_bad_steps(problems):
    evaluator = ProcessEvaluator(_solver(seed=1))
    examples = _examples(problems)
    pairs = build_process_pairs(examples)
    x, y, weight = pair_step_inputs(evaluator.solver, pairs, LENGTH, 8)

    def gap():
        steps = evaluator.score_steps(
            [e.problem for e in examples], [e.solution for e in examples]
        )
        good = [
            a[i]
            for e, a in zip(examples, steps)
            for i in e.good_steps
            if i < len(a)
        ]
        bad = [
            a[i]
            for e, a in zip(examples, steps)
            for i in e.bad_steps
            if i < len(a)
        ]
        return np.mean(good) - np.mean(bad)

    before = gap()
    evaluator.compile(keras.optimizers.Adam(3e-3))
    evaluator.fit(
        x, y, sample_weight=weight, epochs=30, batch_size=4, verbose=0
    )
    after = gap()
    assert after > before + 0.1, (before, after)


def test_aggregate_step_scores():
    scores = [[0.9, 0.5, 0.8], [0.7], [0.2, 0.99]]
    assert aggregate_step_scores(scores, "min").tolist() == [0.5, 0.7, 0.2]
    np.testing.assert_allclose(
        aggregate_step_scores(scores, "product"), [0.36, 0.7, 0.198]
    )
    with pytest.raises(ValueError, match="Received"):
        aggregate_step_scores(scores, "mean")


def test_scores_plug_into_the_rerankers(evaluator, problems):
    p = problems[1]
    texts = [p.solution, p.solution.replace(" = ", " = 1", 1), "", "\\boxed{7}"]
    answers = ["a", "b", None, "b"]
    expected = evaluator.score_solutions([p] * len(texts), texts)
    product = evaluator.score_solutions(
        [p] * len(texts), texts, aggregate="product"
    )
    assert np.all(product <= expected + 1e-6)
    score_fn = sampling.evaluator_score_fn(evaluator, p, texts)
    for name in ("rr_all", "rr_top_k", "weighted_rr_top_k"):
        lazy = sampling.RERANKERS[name](answers, scores=score_fn)
        eager = sampling.RERANKERS[name](answers, scores=expected)
        assert (lazy.answer, lazy.index) == (eager.answer, eager.index)
    best = int(np.argmax(expected))
    assert sampling.rr_all(answers, scores=expected).index == best


def test_label_words_must_differ_in_their_first_token():
    solver = models.MathSolver(
        _solver().causal_lm, label_token_ids=((5, 6), (5, 7))
    )
    with pytest.raises(ValueError, match="first token"):
        ProcessEvaluator(solver).score_steps(["1+1?"], ["2"])


def test_keras_file_round_trip_keeps_the_scores(evaluator, problems, tmp_path):
    texts = [p.solution for p in problems[:3]]
    before = evaluator.score_steps(problems[:3], texts)
    path = str(tmp_path / "process.keras")
    evaluator.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert isinstance(restored, ProcessEvaluator)
    after = restored.score_steps(problems[:3], texts)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-6)


def _weights(solver):
    return [keras.ops.convert_to_numpy(v) for v in solver.backbone.weights]


def test_fit_phases_trains_and_resumes_an_evaluation_phase(problems, tmp_path):
    # The recipe trains a process evaluator as any evaluation phase: the
    # generator's weights, read at every step, resumable from checkpoints.
    evaluator = ProcessEvaluator(_solver(seed=2))
    x, y, weight = pair_step_inputs(
        evaluator.solver, build_process_pairs(_examples(problems)), LENGTH, 8
    )
    phase = models.TrainingPhase(
        "evaluation",
        objective="evaluation",
        steps=2,
        learning_rate=1e-2,
        evaluator_options=models.EvaluatorOptions("mixture"),
    )
    before = _weights(evaluator.solver)
    [(_, history)] = models.fit_phases(
        evaluator,
        [phase],
        {"evaluation": (x, y, weight)},
        checkpoint_dir=str(tmp_path),
        verbose=0,
    )
    assert len(history.history["loss"]) == 1
    after = _weights(evaluator.solver)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    # A fresh model resumes from the finished phase's checkpoint.
    resumed = ProcessEvaluator(_solver(seed=3))
    [(_, none)] = models.fit_phases(
        resumed,
        [phase],
        {"evaluation": (x, y, weight)},
        checkpoint_dir=str(tmp_path),
        verbose=0,
    )
    assert none is None
    for a, b in zip(after, _weights(resumed.solver)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="evaluation objective only"):
        models.fit_phases(
            resumed,
            [models.TrainingPhase("generation", steps=1)],
            {"generation": (x, y, weight)},
            verbose=0,
        )


def test_lora_through_the_evaluator_adapts_its_scores(problems):
    evaluator = ProcessEvaluator(_solver(seed=4))
    texts = [p.solution for p in problems[:2]]
    questions = [p.problem for p in problems[:2]]
    first = evaluator.score_solutions(questions, texts)
    evaluator.enable_lora(2)
    trainable = evaluator.solver.backbone.trainable_weights
    assert trainable and all("lora_kernel" in w.path for w in trainable)
    for w in trainable:  # B starts at zero: give the adapters an effect.
        w.assign(np.full(w.shape, 0.05, "float32"))
    assert not np.allclose(evaluator.score_solutions(questions, texts), first)
