"""Extraction coverage and agreement with math-verify on written-out text.

Input rows are `{"text": ..., "reference": ...}` (one JSON object a
line): `text` is a model's whole sample (or any solution text),
`reference` the gold answer. For each row set the script reports:

- extraction coverage: the fraction of texts with an extracted answer,
  by `extract_answer_record` rule (and the texts with none, to read);
- agreement with math-verify: ours is `answers_equivalent(text,
  reference)` (which grades a solution text by its extracted answer, and
  a bare answer as itself), math-verify's is `verify(parse(reference),
  parse(text))` with LaTeX and expression extraction, as its own tests
  call it (a reference without math delimiters is boxed first); every
  disagreement is listed with a first-guess class (a documented policy
  of README.md's table, an extraction difference, or "unclassified") to
  be confirmed by reading it;
- when rows carry a label (`"label": true/false`, as the outside sets),
  agreement of each grader with the label.

Row sets: `--samples` (JSONL, repeatable; e.g. real Gemma 3 270M
few-shot samples), the outside golden set of tests/grading
(`--outside`), the long model-output rows of a Math-Verify checkout's
test tables (`--math_verify_tests=DIR`, not copied here), and MATH test
solutions graded against MARIO_EVAL's independent annotation of the same
answers (`--mario_annotations=FILE --math_test=DIR`).

Usage:
    python benchmarks/grading_real.py --samples=gemma_fewshot.jsonl
    python benchmarks/grading_real.py --outside \\
        --math_verify_tests=/path/Math-Verify/tests \\
        --mario_annotations=/path/math_testset_annotation.json
"""

import ast
import collections
import json
import os
import pathlib
import re
import sys
import time

from absl import app
from absl import flags

from keras_mathft.grading import EXTRACTION_RULES
from keras_mathft.grading import answers_equivalent
from keras_mathft.grading import extract_answer_record

_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / "tests" / "grading"))
sys.path.insert(0, str(_ROOT / "benchmarks"))

from grading_machine import machine  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("samples", [], "JSONL of {text, reference} rows.")
flags.DEFINE_bool("outside", False, "Include tests/grading/outside_cases.")
flags.DEFINE_string(
    "math_verify_tests", None, "A Math-Verify checkout's tests/ folder."
)
flags.DEFINE_string(
    "mario_annotations", None, "MARIO_EVAL data/math_testset_annotation.json"
)
_SHARED_DATA = pathlib.Path(
    os.environ.get("KERAS_MATHFT_SHARED_DATA", _ROOT.parent / "shared" / "data")
)
flags.DEFINE_string(
    "math_test",
    str(_SHARED_DATA / "MATH" / "test"),
    "MATH test folder (<subject>/<n>.json), matched to MARIO by problem.",
)
flags.DEFINE_float("timeout", 5.0, "answers_equivalent timeout per row.")
flags.DEFINE_integer("show", 40, "Disagreements and misses listed per set.")


# ----------------------------------------------------------------------
# Row sets.
# ----------------------------------------------------------------------
def jsonl_rows(path):
    rows = []
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            rows.append(
                {
                    "text": record["text"],
                    "reference": record["reference"],
                    "label": record.get("label"),
                }
            )
    return rows


def outside_rows():
    from outside_cases import ALL

    return [
        {"text": row[1], "reference": row[0], "label": row[2], "source": name}
        for name, rows in ALL.items()
        for row in rows
    ]


def math_verify_rows(folder):
    """(gold, pred, expected) rows of Math-Verify's parametrized tables,
    with default settings, whose prediction is a long model output."""
    rows = []
    for path in sorted(pathlib.Path(folder).glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if getattr(getattr(dec, "func", None), "attr", "") != (
                    "parametrize"
                ):
                    continue
                try:
                    names = ast.literal_eval(dec.args[0])
                    values = ast.literal_eval(dec.args[1])
                except ValueError:
                    continue
                names = [n.strip() for n in names.split(",")]
                for value in values:
                    row = dict(zip(names, value))
                    label = row.get("expected", row.get("result"))
                    if not {"gold", "pred"} <= row.keys() or label is None:
                        continue
                    if row.get("precision", 6) != 6 or not row.get(
                        "strict", True
                    ):
                        continue
                    if row.get("allow_set_relation_comp"):
                        continue
                    if len(row["pred"]) > 200 or len(row["gold"]) > 200:
                        rows.append(
                            {
                                "text": row["pred"],
                                "reference": row["gold"],
                                "label": bool(label),
                            }
                        )
    return rows


def mario_rows(annotations, math_test):
    """MATH test solutions against MARIO_EVAL's annotated answers."""
    by_problem = {}
    for path in pathlib.Path(math_test).glob("*/*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        by_problem[record["problem"].strip()] = record["solution"]
    rows = []
    for item in json.loads(pathlib.Path(annotations).read_text("utf-8")):
        solution = by_problem.get(item["question"].strip())
        if solution is not None and isinstance(item["answer"], str):
            rows.append(
                {"text": solution, "reference": item["answer"], "label": True}
            )
    return rows


# ----------------------------------------------------------------------
# Graders and first-guess classes.
# ----------------------------------------------------------------------
def math_verify_equal(reference, text):
    """math-verify as its own tests call it (LaTeX and plain-expression
    extraction on both sides); a bare reference is boxed first."""
    import math_verify

    configs = [
        math_verify.LatexExtractionConfig(boxed_match_priority=0),
        math_verify.ExprExtractionConfig(),
    ]
    if not re.search(r"(?<!\\)\$|\\boxed|\\[(\[]", reference):
        reference = "\\boxed{" + reference + "}"
    try:
        gold = math_verify.parse(reference, configs)
        return bool(math_verify.verify(gold, math_verify.parse(text, configs)))
    except Exception:  # noqa: BLE001 - math_verify failures count as False
        return False


_GUESSES = (
    ("decimal_comma", r"\d,\d{1,2}(?!\d)"),
    ("clock_times", r"\d:\d\d"),
    ("relation_not_interval", r"[<>]|\\[lg]eq?|\\in\b"),
    ("percent_is_number", r"\\?%"),
    ("exact_numbers", r"\d\.\d{3,}"),
    ("matrix_expression", r"\\end\{[pb]?matrix\}\s*[+\\]"),
)


def guess_class(extracted, reference, text):
    """A first guess at why we and math-verify disagree (read the row)."""
    if extracted is None:
        return "extraction: none"
    both = f"{extracted} {reference}"
    for name, pattern in _GUESSES:
        if re.search(pattern, both):
            return "policy? " + name
    return "unclassified"


def evaluate(name, rows, timeout, show):
    start = time.perf_counter()
    rules = collections.Counter()
    counts = collections.Counter()
    misses, disagreements = [], []
    by_source = collections.defaultdict(collections.Counter)
    for row in rows:
        record = extract_answer_record(row["text"])
        rules[record.rule] += 1
        # A text that is only an answer (no rule fires) is graded as
        # such; a solution is graded by its extracted answer.
        ours = answers_equivalent(
            row["text"], row["reference"], timeout=timeout
        )
        mv = math_verify_equal(row["reference"], row["text"])
        counts["mv_agree"] += ours == mv
        if row["label"] is not None:
            counts["labelled"] += 1
            counts["ours_label"] += ours == row["label"]
            counts["mv_label"] += mv == row["label"]
            if row.get("source"):
                source = by_source[row["source"]]
                source["rows"] += 1
                source["ours"] += ours == row["label"]
                source["mv"] += mv == row["label"]
        if record.answer is None:
            misses.append(row)
        if ours != mv:
            disagreements.append((row, record, ours, mv))
    seconds = time.perf_counter() - start
    n = len(rows)
    print(f"\n## {name}: {n} rows ({seconds:.1f} s)")
    if not n:
        return
    print("\nextraction coverage by rule")
    print("| rule | texts | share |")
    print("| --- | --- | --- |")
    for rule in EXTRACTION_RULES + (None,):
        label = rule or "none (no answer extracted)"
        print(f"| {label} | {rules[rule]} | {100 * rules[rule] / n:.1f}% |")
    covered = n - rules[None]
    print(f"coverage: {covered}/{n} = {100 * covered / n:.1f}%")
    print(
        f"agreement with math-verify: {counts['mv_agree']}/{n} = "
        f"{100 * counts['mv_agree'] / n:.1f}%"
    )
    if counts["labelled"]:
        k = counts["labelled"]
        print(
            f"agreement with the labels: ours {counts['ours_label']}/{k} "
            f"({100 * counts['ours_label'] / k:.1f}%), math-verify "
            f"{counts['mv_label']}/{k} ({100 * counts['mv_label'] / k:.1f}%)"
        )
    if by_source:
        print("\nagreement with the labels by source table")
        print("| source table | rows | ours | math-verify |")
        print("| --- | --- | --- | --- |")
        for source, c in by_source.items():
            print(
                f"| {source} | {c['rows']} | {c['ours']} "
                f"({100 * c['ours'] / c['rows']:.1f}%) | {c['mv']} "
                f"({100 * c['mv'] / c['rows']:.1f}%) |"
            )
    if disagreements and show:
        print("\ndisagreements with math-verify (first guess at the class)")
        print("| ours | math-verify | label | extracted | reference | guess |")
        print("| --- | --- | --- | --- | --- | --- |")
        classes = collections.Counter()
        for row, record, ours, mv in disagreements:
            guess = guess_class(record.answer, row["reference"], row["text"])
            classes[guess] += 1
        for row, record, ours, mv in disagreements[:show]:
            guess = guess_class(record.answer, row["reference"], row["text"])
            print(
                f"| {ours} | {mv} | {row['label']} | "
                f"`{_cell(record.answer)}` | `{_cell(row['reference'])}` | "
                f"{guess} |"
            )
        print("classes:", dict(classes.most_common()))
    if misses and show:
        print("\ntexts with no extracted answer (tails)")
        for row in misses[:show]:
            print("  -", repr(row["text"][-160:]))


def _cell(value):
    text = "None" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def main(argv):
    del argv
    print("machine:", machine())
    print("backend: none (pure Python grader)")
    print(f"settings: timeout={FLAGS.timeout}")
    sets = [(path, jsonl_rows(path)) for path in FLAGS.samples]
    if FLAGS.outside:
        sets.append(("outside golden set (tests/grading)", outside_rows()))
    if FLAGS.math_verify_tests:
        sets.append(
            (
                "Math-Verify test rows with long model outputs",
                math_verify_rows(FLAGS.math_verify_tests),
            )
        )
    if FLAGS.mario_annotations:
        sets.append(
            (
                "MATH test solutions vs MARIO_EVAL annotations",
                mario_rows(FLAGS.mario_annotations, FLAGS.math_test),
            )
        )
    if not sets:
        raise app.UsageError(
            "Give --samples, --outside, --math_verify_tests or "
            "--mario_annotations. Received: none"
        )
    answers_equivalent(r"\sin^2 x+\cos^2 x", "1")  # start the workers
    for name, rows in sets:
        evaluate(name, rows, FLAGS.timeout, FLAGS.show)


if __name__ == "__main__":
    app.run(main)
