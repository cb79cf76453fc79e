"""The paper's findings, measured on the embedded task over seeds.

`--study=seeds` (the default; `over_seeds.py`) runs the recipe
(`keras_mathft.recipes.run_pipeline`) per seed three times and reads the
reports:

- `detailed`: SSFT on detailed (step-by-step) solutions, the evaluator and
  every re-ranker (finding 2: maj1@N vs RR.All vs RR.Top-K vs weighted
  variants, all from the same samples and scores);
- `terse`: SSFT on terse (answer-only) solutions of the same problems,
  generator only (finding 1: solution style matters for fine-tuning);
- `multitask`: generation -> evaluation -> generation in one model,
  sharing the `detailed` run's SSFT, samples and evaluator data (finding
  3: multi-task sequential fine-tuning vs SSFT).

It prints the machine, backend and settings, a markdown table of mean +-
standard deviation over seeds, and writes every per-seed number to JSON.
Run directories are kept, so a stopped benchmark resumes.

    KERAS_BACKEND=jax python benchmarks/findings --size=quick \\
        --seeds=0,1,2 --output=benchmarks/findings_quick.json

`--study=evaluator` (`evaluator.py`) is study 1 of issue 13: re-ranking
against voting as the evaluator improves. Each sweep point trains its
own evaluator on its seed's base run. A finished point is one JSON file
(`<run_root>/<size>/points/<point>/seed<k>.json`), and an unfinished one
resumes from its stages, so a killed study continues where it was. It
writes its section of `--markdown` (tables and PNG figures beside it),
with synthetic evaluators of set quality (`synthetic.py`).

`--study=style` (`style.py`) is study 2: SSFT on the embedded task's
`detailed`, `coarse` and `both` solutions at an equal token budget; each
(style, seed) result is one JSON file
(`<run_root>/<size>/style/<style>/seed<k>.json`).

`--study=multitask` (`multitask.py`) is study 3: per seed and evaluation
length E, SSFT for S + E + G steps against generation (S), evaluation (E)
and generation (G) in one model, which then scores its own samples; each
result is one JSON file
(`<run_root>/<size>/multitask/points/e<E>/seed<k>.json`).

`--study=process` (`process.py`) is issue 29's: outcome evaluators (the
paper's pairs, and hard pairs whose wrong answer is plausible) against
process evaluators trained on exact and on Monte-Carlo step labels, on
each seed's evaluator-study base run; each arm's result is one JSON file
(`<run_root>/<size>/process/<arm>/seed<k>.json`).

`--study=multitask_process` (`multitask_process.py`) is issue 29's item
5: each seed's base run continued as generation -> process evaluation ->
generation in one model (`--evaluator=process --multitask`), against
its SSFT generator; one JSON file per seed
(`<run_root>/<size>/multitask_process/points/seed<k>.json`).

Sizes are in `sizes.py`; the studies share `common.py` (flags, run
folders, the point store) and `stats.py` (bootstrap intervals, cells).

    # The sizes that fit about 2 hours of a 2-core CPU for all three:
    KERAS_BACKEND=jax python benchmarks/findings --study=evaluator \\
        --size=cpu --seeds=0,1,2 --markdown=benchmarks/findings.md
    KERAS_BACKEND=jax python benchmarks/findings --study=style \\
        --size=cpu --seeds=0,1,2 --markdown=benchmarks/findings.md
    KERAS_BACKEND=jax python benchmarks/findings --study=multitask \\
        --size=cpu --seeds=0,1,2 --markdown=benchmarks/findings.md
    # The issue's full sizes (default recipe, 16 samples per evaluator
    # training problem; a GPU's worth): the same with --size=study.
    # About a minute on CPU each, the machinery only (untrained decoders):
    python benchmarks/findings --study=evaluator --size=micro \\
        --seeds=0 --markdown=/tmp/findings.md
    python benchmarks/findings --study=style --size=micro \\
        --seeds=0 --markdown=/tmp/findings.md

Each study replaces only its own section of `--markdown` (between
`<!-- study:NAME -->` markers), so the studies share one file.
"""

import common
import evaluator
import multitask
import multitask_process
import over_seeds
import process
import style
from absl import app

STUDIES = {
    "seeds": over_seeds.study,
    "evaluator": evaluator.study,
    "style": style.study,
    "multitask": multitask.study,
    "process": process.study,
    "multitask_process": multitask_process.study,
}


def main(argv):
    del argv
    seeds = [int(s) for s in common.FLAGS.seeds]
    STUDIES[common.FLAGS.study](seeds, common.overrides())


if __name__ == "__main__":
    app.run(main)
