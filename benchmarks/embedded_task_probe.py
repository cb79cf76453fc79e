"""Learnability probe: can a tiny decoder partly learn the embedded task?

Trains a small keras-hub `GemmaCausalLM` from scratch on the embedded
task (`keras_mathft.data.synthetic`) with keras-hub's own
`GemmaCausalLMPreprocessor` and `fit` (loss on the whole sequence) for a
fixed wall-clock budget, then on held-out problems reports greedy accuracy
(pass@1), and from `--num_samples` sampled solutions per problem pass@N,
majority voting by value and majority voting by string.

    KERAS_BACKEND=jax python benchmarks/embedded_task_probe.py \\
        --minutes=5 --style=detailed
"""

import collections
import os
import platform
import re
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import sentencepiece  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_mathft.data.embedded_tokenizer import embedded_tokenizer_proto  # noqa: E402
from keras_mathft.data.prompts import PromptTemplate  # noqa: E402
from keras_mathft.data.synthetic import answer_value  # noqa: E402
from keras_mathft.data.synthetic import make_synthetic_problems  # noqa: E402

flags.DEFINE_integer("train_size", 4000, "Training problems.")
flags.DEFINE_integer("eval_size", 50, "Held-out problems.")
flags.DEFINE_float("minutes", 5.0, "Training wall-clock budget.")
flags.DEFINE_enum("style", "detailed", ["detailed", "terse"], "Style.")
flags.DEFINE_integer("num_layers", 4, "Decoder layers.")
flags.DEFINE_integer("hidden_dim", 128, "Hidden size.")
flags.DEFINE_integer("sequence_length", 112, "Tokens per training text.")
flags.DEFINE_integer("batch_size", 16, "Batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Adam learning rate.")
flags.DEFINE_integer("num_samples", 16, "Samples per problem for pass@N.")
flags.DEFINE_float("temperature", 1.0, "Sampling temperature.")
flags.DEFINE_list("levels", None, "Levels to use (default all).")
flags.DEFINE_integer("seed", 0, "Seed for data and weights.")
FLAGS = flags.FLAGS


def last_boxed(text):
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 1, start + len("\\boxed{")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j]
    return None


def same(a, b):
    va = answer_value(a) if a is not None else None
    return va is not None and va == answer_value(b)


def main(_):
    keras.utils.set_random_seed(FLAGS.seed)
    levels = [int(v) for v in FLAGS.levels] if FLAGS.levels else None
    template = PromptTemplate()
    problems = make_synthetic_problems(
        FLAGS.train_size + FLAGS.eval_size,
        seed=FLAGS.seed,
        style=FLAGS.style,
        levels=levels,
    )
    train, held_out = problems[: FLAGS.train_size], problems[-FLAGS.eval_size :]
    tokenizer = keras_hub.models.GemmaTokenizer(
        proto=embedded_tokenizer_proto()
    )
    texts = [template.generation_prompt(p.problem) + p.solution for p in train]
    # Texts longer than the training window (a few %) are left out.
    pieces = sentencepiece.SentencePieceProcessor(
        model_proto=embedded_tokenizer_proto()
    )
    limit = FLAGS.sequence_length - 2  # room for the start and end tokens
    texts = [t for t in texts if len(pieces.encode(t)) <= limit]
    preprocessor = keras_hub.models.GemmaCausalLMPreprocessor(
        tokenizer, sequence_length=FLAGS.sequence_length
    )
    hidden = FLAGS.hidden_dim
    backbone = keras_hub.models.GemmaBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=FLAGS.num_layers,
        num_query_heads=4,
        num_key_value_heads=1,
        hidden_dim=hidden,
        intermediate_dim=hidden * 4,
        head_dim=hidden // 4,
    )
    lm = keras_hub.models.GemmaCausalLM(backbone, preprocessor)
    lm.compile(
        optimizer=keras.optimizers.Adam(FLAGS.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=["accuracy"],
        sampler="greedy",
    )
    print(
        f"machine={platform.node()} cpus={os.cpu_count()} "
        f"backend={keras.config.backend()} style={FLAGS.style} "
        f"train={len(texts)} eval={len(held_out)} levels={levels} "
        f"params={backbone.count_params()} vocab="
        f"{tokenizer.vocabulary_size()} layers={FLAGS.num_layers} "
        f"hidden={hidden} seq={FLAGS.sequence_length} "
        f"batch={FLAGS.batch_size} lr={FLAGS.learning_rate}"
    )

    class Budget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = None
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            # The first step compiles; the budget counts from its end.
            if self.start is None:
                self.start = time.time()
            self.steps += 1
            if time.time() - self.start > FLAGS.minutes * 60:
                self.model.stop_training = True

    budget = Budget()
    data = (
        tf.data.Dataset.from_tensor_slices(texts)
        .shuffle(len(texts), seed=FLAGS.seed, reshuffle_each_iteration=True)
        .batch(FLAGS.batch_size)
    )
    history = lm.fit(data, epochs=1000, callbacks=[budget], verbose=2)
    elapsed = time.time() - budget.start
    print(
        f"trained {budget.steps} steps in {elapsed / 60:.1f} min "
        f"({len(history.history['loss'])} epochs), final loss "
        f"{history.history['loss'][-1]:.3f}"
    )

    prompts = [template.generation_prompt(p.problem) for p in held_out]
    max_length = FLAGS.sequence_length

    def solve(prompt_list):
        outputs = lm.generate(prompt_list, max_length=max_length)
        return [o[len(p) :] for o, p in zip(outputs, prompt_list)]

    start = time.time()
    greedy = solve(prompts)
    correct = [same(last_boxed(s), p.answer) for s, p in zip(greedy, held_out)]
    print(f"greedy decode {time.time() - start:.0f}s")
    for s, p in list(zip(greedy, held_out))[:3]:
        print("---", p.problem, "\n", s, "\n  reference:", p.answer)
    by_level = collections.defaultdict(list)
    for ok, p in zip(correct, held_out):
        by_level[p.level].append(ok)
    print(f"pass@1 (greedy): {np.mean(correct):.3f}")
    print(
        "  by level: "
        + ", ".join(
            f"L{k}={np.mean(v):.2f} (n={len(v)})"
            for k, v in sorted(by_level.items())
        )
    )
    if FLAGS.num_samples <= 0:
        return
    lm.compile(
        sampler=keras_hub.samplers.RandomSampler(
            temperature=FLAGS.temperature, seed=FLAGS.seed
        )
    )
    start = time.time()
    samples = solve([p for p in prompts for _ in range(FLAGS.num_samples)])
    print(f"sampling {time.time() - start:.0f}s")
    n = FLAGS.num_samples
    stats = collections.Counter()
    forms = collections.Counter()
    for i, p in enumerate(held_out):
        answers = [last_boxed(s) for s in samples[i * n : (i + 1) * n]]
        hits = [same(a, p.answer) for a in answers]
        stats["sample_acc"] += np.mean(hits)
        stats["pass@n"] += any(hits)
        valid = [a for a in answers if answer_value(a) is not None]
        if valid:
            by_string = collections.Counter(valid).most_common(1)[0][0]
            values = collections.Counter(answer_value(a) for a in valid)
            top = values.most_common(1)[0][0]
            stats["vote_string"] += same(by_string, p.answer)
            stats["vote_value"] += top == answer_value(p.answer)
        for a in valid:
            if same(a, p.answer):
                forms[re.sub(r"\d+", "N", a)] += 1
    k = len(held_out)
    print(
        f"samples/problem={n} T={FLAGS.temperature}: mean sample acc "
        f"{stats['sample_acc'] / k:.3f}, pass@{n} {stats['pass@n'] / k:.3f}, "
        f"majority by value {stats['vote_value'] / k:.3f}, "
        f"majority by string {stats['vote_string'] / k:.3f}"
    )
    print("correct answer surface forms:", dict(forms.most_common(8)))


if __name__ == "__main__":
    app.run(main)
