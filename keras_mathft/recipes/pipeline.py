"""The paper's pipeline end to end, one resumable stage at a time.

Stages, in order (`stage_names(config)`):

1. `ssft`: solution fine-tuning of the generator on the reference
   solutions (a from-scratch decoder on the embedded task by default).
2. `train_samples`: N samples for each of `num_eval_train_problems`
   training problems from the SSFT generator, graded against the
   references.
3. `evaluator_data`: classification examples and right/wrong pairs.
4. `evaluator` (a copy of the SSFT model fine-tuned with the evaluator
   loss) or, with `multitask=True`, `multitask_evaluation` then
   `multitask_generation` (generation -> evaluation -> generation in one
   model; the first generation phase is stage 1).
5. `test_greedy`, `test_samples` (greedy decoding and N samples per test
   problem from the final generator) and `test_scores` (evaluator scores).
6. `report`: every metric and re-ranker, `report.json`, `report.md` and
   `accuracy_vs_n.png`; the table is printed.

Every stage reads its inputs from the run directory and writes its outputs
there, then a `DONE.json` marker; a stage with a marker is skipped, so a
stopped run restarts at the first unfinished stage. Inside a stage,
training saves the trainable weights and optimizer state every
`checkpoint_every` steps and resumes from the last save on the same batch
sequence; sampling resumes through the sample store. Data, weight
initialisation, batch order and sampling are all seeded, so a resumed run
gives the same report as an uninterrupted one.
"""

import dataclasses
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from keras_mathft import data as data_lib
from keras_mathft import grading
from keras_mathft import models
from keras_mathft import sampling
from keras_mathft._files import read_json
from keras_mathft._files import write_json_atomic
from keras_mathft._files import write_text_atomic
from keras_mathft.recipes.config import SIZES
from keras_mathft.recipes.config import RecipeConfig
from keras_mathft.recipes.run_dir import RunDirectory

CONFIG_FILE = "config.json"
TIMINGS_FILE = "timings.json"
WEIGHTS_FILE = "model.weights.h5"
_TEST_SEED_OFFSET = 1_000_003
# Fields that never change a result: where the run lives.
_NOT_COMPARED = ("run_dir",)


def stage_names(config):
    """The stages `run_pipeline` runs for `config`, in order."""
    middle = (
        ["multitask_evaluation", "multitask_generation"]
        if config.multitask
        else ["evaluator"]
    )
    return (
        ["ssft", "train_samples", "evaluator_data"]
        + middle
        + ["test_greedy", "test_samples", "test_scores", "report"]
    )


def run_pipeline(config, *, verbose=1, stop_after=None, stages=None):
    """Runs (or resumes) the whole pipeline for `config`.

    The Python API behind `examples/train.py`; notebooks call it too.

    Args:
        config: a `RecipeConfig`.
        verbose: int. 0 is silent, 1 logs stages and prints the table, 2
            also shows Keras and sampling progress bars.
        stop_after: optional stage name (see `stage_names`). Stop once it
            is done, e.g. to run a long pipeline in several sessions.
        stages: optional list of stage names to run, in pipeline order,
            instead of all of them (e.g. `["ssft", "test_greedy",
            "test_samples"]` to measure a generator alone). The inputs of
            each must exist in the run directory or come from an earlier
            stage of the list.

    Returns:
        The report dict (what `report.json` holds), or `None` when the run
        stopped before the report.

    Raises:
        ValueError: when the run directory holds a run with other settings,
            or `stop_after` is not a stage of this run.

    Example:

    >>> from keras_mathft.recipes import RecipeConfig, run_pipeline
    >>> report = run_pipeline(RecipeConfig(size="quick", run_dir="runs/q"))
    ... # doctest: +SKIP
    >>> report["overall"]["pass@1"]  # doctest: +SKIP
    """
    if not isinstance(config, RecipeConfig):
        raise ValueError(
            "`config` must be a `RecipeConfig`. "
            f"Received: {type(config).__name__}"
        )
    names = stage_names(config)
    if stop_after is not None and stop_after not in names:
        raise ValueError(
            f"`stop_after` must be one of {names}. Received: {stop_after!r}"
        )
    if stages is not None:
        unknown = [s for s in stages if s not in names]
        if unknown:
            raise ValueError(
                f"`stages` must be drawn from {names}. Received: {unknown}"
            )
        names = [n for n in names if n in stages]
    pipeline = _Pipeline(config, verbose)
    for name in names:
        pipeline.run_stage(name)
        if name == stop_after:
            return None
    if names[-1] != "report":
        return None
    report = pipeline.report()
    if verbose:
        print(format_report(report), flush=True)
    return report


def check_run_directory(config):
    """Opens the run directory of `config`: locked, checked, created if new.

    See `RunDirectory` for the checks.

    Returns:
        The `RunDirectory`, holding the run's writer lock.

    Raises:
        ValueError: when the folder holds a run with other settings, is in
            use by another process, or cannot be a run directory.
    """
    # Resolved values too: a changed size table must not resume old runs.
    settings = {
        **_comparable(config.get_config()),
        "resolved": resolved_settings(config),
    }
    return RunDirectory(config.run_dir, config=settings)


def _comparable(config):
    return {k: v for k, v in config.items() if k not in _NOT_COMPARED}


class _Pipeline:
    """The stages of one run; each reads and writes the run directory."""

    def __init__(self, config, verbose):
        self.config = config
        self.verbose = verbose
        self.run = check_run_directory(config)
        self.template = data_lib.PromptTemplate()
        self._problems = None
        self._models = {}

    # === Orchestration ===

    def log(self, message, *args):
        if self.verbose:
            print(message % args if args else message, flush=True)

    def run_stage(self, name):
        if self.run.is_done(name):
            self.log("[%s] done already, skipped", name)
            return
        self.log("[%s] running", name)
        start = time.perf_counter()
        summary = getattr(self, f"stage_{name}")()
        seconds = time.perf_counter() - start
        self.run.mark_done(name, summary)
        timings_path = self.run.path / TIMINGS_FILE
        timings = read_json(timings_path) if timings_path.exists() else {}
        timings[name] = timings.get(name, 0.0) + seconds
        write_json_atomic(timings_path, timings)
        self.log("[%s] done in %.1f s: %s", name, seconds, summary)

    def report(self):
        return read_json(self.run.path / "report" / "report.json")

    # === Data ===

    @property
    def problems(self):
        """`(train, test)` lists of `MathProblem`, from the config."""
        if self._problems is None:
            self._problems = load_problems(self.config)
        return self._problems

    def eval_train_problems(self):
        train = self.problems[0]
        count = self.config.resolved("num_eval_train_problems")
        return train if count is None else train[:count]

    # === Models ===

    def new_solver(self):
        """A freshly built (seeded) solver of the configured architecture."""
        config = self.config
        keras.utils.set_random_seed(config.seed)
        length = config.resolved("sequence_length")
        if config.preset is None:
            proto = data_lib.embedded_tokenizer_proto()
            hidden = config.resolved("hidden_dim")
            lm = models.build_causal_lm(
                "gemma",
                proto,
                num_layers=config.resolved("num_layers"),
                hidden_dim=hidden,
                num_heads=4,
                num_key_value_heads=1,
                intermediate_dim=4 * hidden,
                head_dim=hidden // 4,
                sequence_length=length,
                dtype=config.dtype,
            )
            solver = models.MathSolver(lm, prompt_template=self.template)
        else:
            kwargs = {} if config.dtype is None else {"dtype": config.dtype}
            solver = models.MathSolver.from_preset(
                config.preset, prompt_template=self.template, **kwargs
            )
            solver.preprocessor.sequence_length = length
            if config.lora_rank is not None:
                solver.enable_lora(config.lora_rank)
        return solver

    def solver(self, stage):
        """The solver saved by `stage`, loaded once and kept in memory."""
        if stage not in self._models:
            self._cache(stage, self._copy_of(stage))
        return self._models[stage]

    def _cache(self, stage, solver):
        # Two models at most (generator and evaluator) stay in memory.
        self._models.pop(stage, None)
        while len(self._models) >= 2:
            self._models.pop(next(iter(self._models)))
        self._models[stage] = solver

    def generator_stage(self):
        return "multitask_generation" if self.config.multitask else "ssft"

    def evaluator_stage(self):
        if self.config.multitask:
            return "multitask_generation"
        return "evaluator"

    # === Stage 1: solution fine-tuning ===

    def stage_ssft(self):
        solver = self.new_solver()
        stats = self._train(
            "ssft",
            solver,
            objective="generation",
            dataset_fn=self._generation_dataset,
            steps=self.config.resolved("sft_steps"),
            learning_rate=self.config.resolved("learning_rate"),
        )
        return stats

    def _generation_dataset(self, solver):
        config = self.config
        prompts, responses = data_lib.sft_pairs(self.problems[0], self.template)
        length = config.resolved("sequence_length")
        pairs = data_lib.tokenize_pairs(
            solver.tokenizer, prompts, responses, length
        )
        buckets = data_lib.default_bucket_lengths(length, num_buckets=2)
        dataset = data_lib.make_sft_dataset(
            pairs,
            batch_size=config.resolved("batch_size"),
            bucket_lengths=buckets,
            seed=config.seed,
            repeat=True,
            drop_remainder=True,
        )
        info = {
            "examples": int(pairs.stats.num_kept),
            "truncated": int(pairs.stats.num_truncated),
            "dropped": int(pairs.stats.num_dropped),
        }
        return dataset, info

    # === Stage 2: sample and grade training problems ===

    def stage_train_samples(self):
        config = self.config
        problems = self.eval_train_problems()
        store = self._sample(
            "train_samples",
            self.solver("ssft"),
            problems,
            num_samples=config.resolved("num_train_samples"),
            temperature=config.temperature,
            seed=config.seed + 1,
        )
        samples = _aligned(store, problems)
        labels = [
            [_is_correct(s.answer, p.answer) for s in group]
            for p, group in zip(problems, samples)
        ]
        write_json_atomic(
            self.run.stage_dir("train_samples") / "labels.json", labels
        )
        flat = [v for group in labels for v in group]
        return {
            "problems": len(problems),
            "samples": len(flat),
            "correct_fraction": float(np.mean(flat)) if flat else 0.0,
            "problems_with_a_correct_sample": int(sum(map(any, labels))),
        }

    # === Stage 3: evaluator data ===

    def stage_evaluator_data(self):
        problems = self.eval_train_problems()
        store = sampling.SampleStore(self.run.path / "train_samples" / "store")
        samples = _aligned(store, problems)
        labels = read_json(self.run.path / "train_samples" / "labels.json")
        built = models.build_evaluator_examples(
            problems,
            [[s.text for s in group] for group in samples],
            labels,
            max_pairs_per_problem=self.config.max_pairs_per_problem,
            seed=self.config.seed,
        )
        directory = self.run.stage_dir("evaluator_data")
        _write_jsonl(
            directory / "examples.jsonl",
            [vars(e) for e in built.examples],
        )
        _write_jsonl(directory / "pairs.jsonl", [vars(p) for p in built.pairs])
        stats = {
            k: int(v) for k, v in vars(built.stats).items() if k != "summary"
        }
        self.log("[evaluator_data] %s", built.stats.summary())
        return stats

    def _evaluator_dataset(self, solver):
        config = self.config
        directory = self.run.path / "evaluator_data"
        length = config.resolved("sequence_length")
        if config.evaluator_loss == "xent":
            rows = _read_jsonl(directory / "examples.jsonl")
            examples = [models.EvaluatorExample(**r) for r in rows]
            if not examples:
                return None, {"examples": 0}
            x, y = models.classification_inputs(solver, examples, length)
            x = _trim(x)
            elements, count = (x, y), len(examples)
            info = {"examples": count}
        else:
            rows = _read_jsonl(directory / "pairs.jsonl")
            pairs = [models.EvaluatorPair(**r) for r in rows]
            if not pairs:
                return None, {"pairs": 0}
            x = _trim(models.pair_inputs(solver, pairs, length))
            elements, count = x, len(pairs)
            info = {"pairs": count}
        info["sequence_length"] = int(x["token_ids"].shape[-1])
        dataset = (
            tf.data.Dataset.from_tensor_slices(elements)
            .shuffle(count, seed=config.seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(config.resolved("evaluator_batch_size"), drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        )
        return dataset, info

    # === Stage 4: evaluator, or multi-task sequential fine-tuning ===

    def stage_evaluator(self):
        return self._evaluation_phase("evaluator", from_stage="ssft")

    def stage_multitask_evaluation(self):
        return self._evaluation_phase("multitask_evaluation", from_stage="ssft")

    def stage_multitask_generation(self):
        solver = self._copy_of("multitask_evaluation")
        return self._train(
            "multitask_generation",
            solver,
            objective="generation",
            dataset_fn=self._generation_dataset,
            steps=self.config.resolved("final_sft_steps"),
            learning_rate=self.config.resolved("evaluator_learning_rate"),
        )

    def _evaluation_phase(self, stage, from_stage):
        config = self.config
        solver = self._copy_of(from_stage)
        dataset, info = self._evaluator_dataset(solver)
        if dataset is None:
            # Every sampled answer was right (or every one wrong): there is
            # nothing to learn from, so the evaluator stays the SSFT model.
            logging.warning(
                "No evaluator training data for loss %r (%s); the %s stage "
                "keeps the SSFT weights untrained.",
                config.evaluator_loss,
                info,
                stage,
            )
            solver.save_weights(self.run.stage_dir(stage) / WEIGHTS_FILE)
            return {"trained": False, **info}
        stats = self._train(
            stage,
            solver,
            objective="evaluation",
            dataset_fn=lambda _: (dataset, info),
            steps=config.resolved("evaluator_steps"),
            learning_rate=config.resolved("evaluator_learning_rate"),
            compile_kwargs={
                "evaluator_loss": config.evaluator_loss,
                "margin": config.margin,
            },
        )
        return {"trained": True, **stats}

    def _copy_of(self, stage):
        solver = self.new_solver()
        solver.load_weights(self.run.path / stage / WEIGHTS_FILE)
        return solver

    # === Stage 5: test decoding and scoring ===

    def stage_test_greedy(self):
        test = self.problems[1]
        self._sample(
            "test_greedy",
            self.solver(self.generator_stage()),
            test,
            num_samples=1,
            temperature=0.0,
            seed=self.config.seed,
        )
        return {"problems": len(test)}

    def stage_test_samples(self):
        test = self.problems[1]
        self._sample(
            "test_samples",
            self.solver(self.generator_stage()),
            test,
            num_samples=self.config.resolved("num_samples"),
            temperature=self.config.temperature,
            seed=self.config.seed + 2,
        )
        return {"problems": len(test)}

    def stage_test_scores(self):
        test = self.problems[1]
        store = sampling.SampleStore(self.run.path / "test_samples" / "store")
        samples = _aligned(store, test)
        evaluator = self.solver(self.evaluator_stage())
        problems = [p.problem for p, g in zip(test, samples) for _ in g]
        texts = [s.text for g in samples for s in g]
        scores = evaluator.score_solutions(
            problems,
            texts,
            batch_size=self.config.resolved("evaluator_batch_size") * 2,
            sequence_length=self.config.resolved("sequence_length"),
        )
        scores = [float(s) for s in scores]
        nested, i = [], 0
        for group in samples:
            nested.append(scores[i : i + len(group)])
            i += len(group)
        write_json_atomic(
            self.run.stage_dir("test_scores") / "scores.json", nested
        )
        return {"scored": len(scores)}

    # === Stage 6: report ===

    def stage_report(self):
        config = self.config
        test = self.problems[1]
        samples = _aligned(
            sampling.SampleStore(self.run.path / "test_samples" / "store"),
            test,
        )
        greedy = [
            g[0]
            for g in _aligned(
                sampling.SampleStore(self.run.path / "test_greedy" / "store"),
                test,
            )
        ]
        scores = read_json(self.run.path / "test_scores" / "scores.json")
        num = config.resolved("num_samples")
        n_values = sorted(
            {2**i for i in range(int(math.log2(num)) + 1)} | {num}
        )
        result = sampling.evaluate(
            test,
            samples,
            greedy=greedy,
            scores=scores,
            top_k=config.top_k_clusters,
            top_n=config.top_k_clusters,
            n_values=n_values,
            trials=16,
            seed=config.seed,
        )
        result["recipe"] = self._recipe_summary(test, samples, scores)
        directory = self.run.stage_dir("report")
        title = (
            "Multi-task sequential fine-tuning"
            if config.multitask
            else "SSFT generator, evaluator re-ranking"
        )
        sampling.write_report(result, directory, title=title)
        return {"report": str(directory / "report.md")}

    def _recipe_summary(self, test, samples, scores):
        correct = [
            [_is_correct(s.answer, p.answer) for s in group]
            for p, group in zip(test, samples)
        ]
        stages = {
            name: self.run.summary(name)
            for name in stage_names(self.config)
            if name != "report" and self.run.is_done(name)
        }
        return {
            "config": _comparable(self.config.get_config()),
            "resolved": resolved_settings(self.config),
            "generator": self.generator_stage(),
            "evaluator": self.evaluator_stage(),
            "stages": stages,
            "test_sample_accuracy": float(
                np.mean([v for g in correct for v in g])
            ),
            "evaluator_auc": evaluator_auc(correct, scores),
        }

    # === Shared machinery ===

    def _sample(self, stage, solver, problems, num_samples, temperature, seed):
        config = self.config
        store = sampling.SampleStore(self.run.stage_dir(stage) / "store")
        sampling.sample_to_store(
            solver,
            problems,
            store,
            num_samples=num_samples,
            temperature=temperature,
            top_p=config.top_p,
            max_new_tokens=config.resolved("max_new_tokens"),
            seed=seed,
            problems_per_shard=max(1, 1024 // num_samples),
            verbose=self.verbose >= 2,
        )
        return store

    def _train(
        self,
        stage,
        solver,
        *,
        objective,
        dataset_fn,
        steps,
        learning_rate,
        compile_kwargs=None,
    ):
        """Fits `solver` for `steps` steps with checkpoints; saves weights."""
        config = self.config
        directory = self.run.stage_dir(stage)
        checkpoint = models.TrainingCheckpoint(directory / "checkpoint")
        keras.utils.set_random_seed(config.seed)
        dataset, info = dataset_fn(solver)
        # Equal chunks of at most `checkpoint_every` steps (Keras epochs),
        # together `steps` or at most `chunks - 1` more.
        chunks = -(-steps // config.resolved("checkpoint_every"))
        every = -(-steps // chunks)
        done_chunks = checkpoint.epochs_done()
        warmup = max(1, steps // 20)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=max(1, chunks * every - warmup),
            alpha=0.1,
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
        solver.compile(
            optimizer=keras.optimizers.AdamW(
                schedule, weight_decay=0.0, clipnorm=1.0
            ),
            objective=objective,
            **(compile_kwargs or {}),
        )
        if done_chunks < chunks:
            if done_chunks:
                self.log(
                    "[%s] resuming after step %d of %d",
                    stage,
                    done_chunks * every,
                    chunks * every,
                )
            history = solver.fit(
                dataset.skip(done_chunks * every),
                epochs=chunks,
                initial_epoch=done_chunks,
                steps_per_epoch=every,
                callbacks=[checkpoint],
                shuffle=False,
                verbose=2 if self.verbose >= 2 else 0,
            )
            del history
        else:
            checkpoint.restore(solver)
        solver.save_weights(directory / WEIGHTS_FILE)
        losses = checkpoint.losses()
        # The trained model equals its saved weights: keep it for the
        # next stages instead of loading it again.
        self._cache(stage, solver)
        return {
            "steps": chunks * every,
            "final_loss": round(losses[-1], 4) if losses else None,
            "losses": [round(v, 4) for v in losses],
            **info,
        }


# === Helpers (public ones are used by notebooks and benchmarks) ===


def resolved_settings(config):
    """The size-dependent settings of `config` with their actual values."""
    names = list(SIZES["default"]) + [
        "learning_rate",
        "evaluator_learning_rate",
    ]
    return {name: config.resolved(name) for name in names}


def load_problems(config):
    """Returns `(train, test)` problem lists for `config`.

    The embedded task draws `num_train_problems` seeded problems and
    `num_test_problems` more from another seed, leaving out any whose text
    is a training problem, so the test set is held out. With
    `data="math"` the paper's 12K/500 split is read from `data_dir` and
    the chosen solutions are attached.
    """
    num_train = config.resolved("num_train_problems")
    num_test = config.resolved("num_test_problems")
    if config.data == "embedded":
        return _embedded_problems(config, num_train, num_test)
    train, test = _load_math(config)
    if num_train is not None:
        train = train[:num_train]
    if num_test is not None:
        test = test[:num_test]
    return _with_solutions(config, train), test


def _embedded_problems(config, num_train, num_test):
    levels = range(1, config.resolved("max_level") + 1)

    def draw(count, seed):
        return data_lib.make_synthetic_problems(
            count, seed=seed, style=config.style, levels=levels
        )

    train = draw(num_train, config.seed)
    seen = {p.problem for p in train}
    # Test problems come from their own seeded stream, minus any problem
    # text that is also a training problem, so the test set is held out.
    count = 4 * num_test + 64
    while True:
        pool = draw(count, config.seed + _TEST_SEED_OFFSET)
        test = _unique([p for p in pool if p.problem not in seen])
        if len(test) >= num_test or count >= 256 * (num_test + 64):
            break
        count *= 4
    if len(test) < num_test:
        logging.warning(
            "Only %d distinct held-out test problems exist at max_level=%d "
            "besides the %d training problems; using them all.",
            len(test),
            config.resolved("max_level"),
            num_train,
        )
    test = [
        dataclasses.replace(p, unique_id="test/" + p.unique_id)
        for p in test[:num_test]
    ]
    return train, test


def _load_math(config):
    root = config.data_dir
    if os.path.isdir(os.path.join(root, "MATH")):
        return data_lib.load_paper_split(root, check_counts=False)
    return (
        data_lib.load_math(os.path.join(root, "train.jsonl")),
        data_lib.load_math(os.path.join(root, "test.jsonl")),
    )


def _with_solutions(config, train):
    if config.solutions == "math":
        return train
    records = data_lib.load_prm800k(config.prm800k_file(), strict=False)
    prm = data_lib.correct_solutions(records, problems=train)
    # Keep PRM800K solutions of training problems only (never MATH500).
    known = {p.problem.strip() for p in train}
    prm = [p for p in prm if p.problem.strip() in known]
    return prm if config.solutions == "prm800k" else train + prm


def _unique(problems):
    seen, out = set(), []
    for p in problems:
        if p.problem not in seen:
            seen.add(p.problem)
            out.append(p)
    return out


def _is_correct(answer, reference):
    return answer is not None and bool(
        grading.answers_equivalent(answer, reference)
    )


def _aligned(store, problems):
    """The store's samples as one list per problem, in problem order."""
    by_problem = store.by_problem()
    return [
        by_problem[sampling.records.problem_id(p, i)]
        for i, p in enumerate(problems)
    ]


def _trim(x):
    """Cuts padding columns that no row uses (multiple of 16 kept)."""
    mask = x["padding_mask"]
    used = int(np.max(np.sum(mask, axis=-1))) if mask.size else 1
    length = min(mask.shape[-1], -(-used // 16) * 16)
    return {k: v[..., :length] for k, v in x.items()}


def _write_jsonl(path, rows):
    write_text_atomic(
        path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )


def _read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluator_auc(correct, scores):
    """Area under the ROC curve of evaluator scores for right vs wrong.

    The chance that a random right sample scores above a random wrong one
    (ties count half), over every test sample; `None` without both kinds.
    """
    flat_c = np.asarray([c for g in correct for c in g], bool)
    flat_s = np.asarray([s for g in scores for s in g], "float64")
    right, wrong = flat_s[flat_c], flat_s[~flat_c]
    if len(right) == 0 or len(wrong) == 0:
        return None
    order = np.argsort(np.concatenate([right, wrong]), kind="mergesort")
    values = np.concatenate([right, wrong])[order]
    ranks = np.empty(len(values))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    rank_of = np.empty(len(values))
    rank_of[order] = ranks
    u = rank_of[: len(right)].sum() - len(right) * (len(right) + 1) / 2
    return float(u / (len(right) * len(wrong)))


def format_report(result):
    """The printed report: the paper-style table plus recipe facts."""
    lines = [sampling.markdown_table(result)]
    recipe = result.get("recipe", {})
    o = result["overall"]
    n = result["num_samples"]
    if "pass@1" in o:
        lines.append(
            f"pass@1 {100 * o['pass@1']:.1f} | maj1@{n} "
            f"{100 * o[f'maj1@{n}']:.1f} | pass@{n} "
            f"{100 * o['pass@k'][str(n)]:.1f}  ({o['num_problems']} test "
            "problems)"
        )
    if recipe:
        auc = recipe.get("evaluator_auc")
        lines.append(
            f"test sample accuracy {100 * recipe['test_sample_accuracy']:.1f}"
            "%, evaluator AUC "
            + ("n/a" if auc is None else f"{auc:.3f}")
            + f" (generator: {recipe['generator']}, evaluator: "
            f"{recipe['evaluator']})"
        )
    return "\n".join(lines)
