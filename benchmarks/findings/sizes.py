"""The studies' sizes and the runs they share.

Every size's settings are written down here before any of its results.
"""

import common

from keras_mathft import sampling
from keras_mathft.recipes import RecipeConfig

METHODS = tuple(sampling.RERANKERS)
SHARED_STAGES = ("ssft", "train_samples", "evaluator_data")

# The evaluator sweep. `base`: recipe settings of each seed's base run,
# fixed before any result (the embedded task at the default size's
# difficulty); `points`: (evaluator training problems, most pairs per
# problem, loss); an evaluator trains for `EPOCHS` passes over its pairs
# (margin) or examples (xent), at least `min_steps`; its within-problem
# AUC on its training data is measured on the first `train_auc_problems`.
# The paper's setting is 12K problems x 64 samples, 10 pairs per problem.
# The `cpu` size of every study: what fits about 2 hours of a 2-core CPU
# for all three studies, written down before any of its results (the
# embedded task and decoder of the earlier single-budget findings run:
# the `quick` size's 2-layer, 96-wide decoder, 900 SSFT steps of 32 on
# 30,000 problems of levels 1 to 3), with the 300 test problems
# at N = 64, 8 samples on each of 2,000 evaluator training problems.
# The three studies share it, so each seed's base run (SSFT, training
# and test samples) serves them all (`shared_run`).
CPU_BASE = dict(
    size="quick",
    num_train_problems=30000,
    sft_steps=900,
    num_test_problems=300,
    num_samples=64,
    num_train_samples=8,
    num_eval_train_problems=2000,
)
EVALUATOR_STUDY = {
    "micro": dict(
        base=dict(
            size="quick",
            num_train_problems=64,
            num_test_problems=6,
            num_samples=4,
            num_train_samples=4,
            top_k_clusters=2,
            hidden_dim=16,
            num_layers=1,
            batch_size=8,
            evaluator_batch_size=4,
            sft_steps=4,
            max_new_tokens=16,
            checkpoint_every=2,
            max_level=1,
        ),
        points=[(3, 10, "margin"), (6, 10, "xent")],
        min_steps=2,
        train_auc_problems=6,
    ),
    "study": dict(
        base=dict(
            size="default",
            num_test_problems=300,
            num_samples=64,
            num_train_samples=16,
        ),
        points=[
            (problems, 10, loss)
            for loss in ("margin", "xent")
            for problems in (200, 1000, 4000)
        ]
        # The spread of a fixed number of pairs over problems.
        + [(5000, 2, "margin"), (10000, 1, "margin")],
        min_steps=50,
        train_auc_problems=300,
    ),
    # The data axis at 10 pairs per problem (both losses at 1,000), and
    # 2,000 pairs spread over 200, 1,000 and 2,000 problems.
    "cpu": dict(
        base=CPU_BASE,
        points=[(problems, 10, "margin") for problems in (200, 1000, 2000)]
        + [(1000, 10, "xent"), (1000, 2, "margin"), (2000, 1, "margin")],
        min_steps=50,
        train_auc_problems=200,
    ),
}
EPOCHS = 2
# Study 2. `base`: the recipe settings of every run, fixed before any
# result; the detailed run trains `sft_steps` (the size's), the others
# as many tokens.
STYLE_STUDY = {
    "micro": dict(
        base={
            k: v
            for k, v in EVALUATOR_STUDY["micro"]["base"].items()
            if k not in ("num_train_samples", "evaluator_batch_size")
        },
        styles=("detailed", "coarse", "both"),
    ),
    "study": dict(
        base=dict(size="default", num_test_problems=300, num_samples=64),
        styles=("detailed", "coarse", "both"),
    ),
    "cpu": dict(base=CPU_BASE, styles=("detailed", "coarse", "both")),
}
STYLE_STAGES = ("ssft", "test_greedy", "test_samples")
# Study 3. Per seed and evaluation phase length E: SSFT for S + E + G
# steps against generation (S) -> evaluation (E) -> generation (G) in one
# model, which then also scores its own samples. `base` as above.
MULTITASK_STUDY = {
    "micro": dict(
        base=EVALUATOR_STUDY["micro"]["base"],
        generation_steps=4,
        regeneration_steps=2,
        evaluation_steps=(2, 4),
    ),
    "study": dict(
        base=EVALUATOR_STUDY["study"]["base"],
        generation_steps=2000,
        regeneration_steps=150,
        evaluation_steps=(150, 300, 600),
    ),
    "cpu": dict(
        base=CPU_BASE,
        generation_steps=900,
        regeneration_steps=100,
        evaluation_steps=(100, 300),
    ),
}
# Issue 29's process study. Each seed reuses the evaluator study's base
# run (SSFT, 8 samples on each of its evaluator training problems, the
# test samples). `problems`: the evaluator training problems of every
# arm; `mc_problems`: the first problems whose samples get Monte-Carlo
# labels, `num_rollouts` (k) rollouts per step, a step good with
# `min_right` right rollouts. An arm trains 2 passes over its pairs
# (`EPOCHS`), at least `min_steps` and at most the paper arm's steps, so
# no arm trains longer than the paper's evaluator. The `cpu` size was
# written down before any result: the Monte-Carlo budget is about the
# base run's own training samples (300 problems x 8 samples x about 2
# rolled-out steps x k = 8, some 40,000 rollouts), which keeps one seed
# under 45 minutes of this 2-core machine.
PROCESS_STUDY = {
    "micro": dict(
        problems=6,
        mc_problems=3,
        num_rollouts=2,
        min_right=1,
        max_pairs_per_problem=10,
        min_steps=2,
        train_auc_problems=6,
    ),
    "cpu": dict(
        problems=2000,
        mc_problems=300,
        num_rollouts=8,
        min_right=1,
        max_pairs_per_problem=10,
        min_steps=50,
        train_auc_problems=200,
    ),
    "study": dict(
        problems=4000,
        mc_problems=1000,
        num_rollouts=8,
        min_right=1,
        max_pairs_per_problem=10,
        min_steps=50,
        train_auc_problems=300,
    ),
}
# Within-problem AUCs of the synthetic evaluators that re-rank each base
# run's test samples: what quality re-ranking needs on those clusters.
SYNTHETIC_AUCS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99)
# What each seed's base run does; every point reads its artifacts.
BASE_STAGES = ("ssft", "train_samples", "test_greedy", "test_samples")
POINT_STAGES = ("evaluator_data", "evaluator", "test_scores", "report")
# Per-problem outcomes of a point, bootstrapped for the intervals.
ACCURACY = ("maj1@N", *METHODS[1:], "majK@N", "pass@N")


def point_name(point):
    problems, pairs, loss = point
    return f"p{problems}_pairs{pairs}_{loss}"


def base_config(study, seed, overrides):
    """The evaluator study's base run of `seed`: SSFT and the samples."""
    most = max(problems for problems, _, _ in study["points"])
    return RecipeConfig(
        run_dir=common.size_root(f"base_seed{seed}"),
        seed=seed,
        **{**study["base"], "num_eval_train_problems": most, **overrides},
    )


def shared_run(config, overrides):
    """The evaluator study's base run of `config`'s seed when `config` is
    the same run under another folder, else `config`: a run that the
    studies share is trained and sampled once."""
    if common.FLAGS.size not in EVALUATOR_STUDY:
        return config
    base = base_config(
        EVALUATOR_STUDY[common.FLAGS.size], config.run.seed, overrides
    )
    return base if config.replace(run_dir=base.run.run_dir) == base else config


def point_run_dir(point, seed):
    """The recipe run of one evaluator sweep point and seed."""
    return common.size_root("points", point_name(point), f"run_seed{seed}")


def point_config(base, point, steps):
    """The recipe run of one sweep point: the base run's settings with
    the point's evaluator data, loss and `steps` of training."""
    problems, pairs_per_problem, loss = point
    return base.replace(
        run_dir=point_run_dir(point, base.run.seed),
        num_eval_train_problems=problems,
        max_pairs_per_problem=pairs_per_problem,
        evaluator_loss=loss,
        evaluator_steps=steps,
    )
