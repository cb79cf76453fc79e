"""Grader benchmark: agreement on MATH500 variants, and clustering speed.

(a) Agreement. For every MATH500 reference answer a generator below
builds rewritten answers whose label is known by construction: rewrites
that keep the value (spacing, `\\dfrac`, unreduced or decimal fractions,
reordered sums and lists, `x=` labels, thousands separators, ...) are
"equivalent"; rewrites that change it (n+1, negation, reciprocal, swapped
tuple entries, flipped interval ends, another problem's text answer) are
"different". Each (reference, variant) pair is graded by our
`answers_equivalent`, by `math_verify.verify(parse(gold), parse(pred))`
and by a normalized-string baseline (`normalize_answer(a) ==
normalize_answer(b)`); accuracy is against the construction label.

(b) Throughput. For each problem, 64 answers are drawn (seeded) from its
reference and variants, and clustered by `cluster_answers` and by a
pairwise math_verify clustering (each answer parsed once and compared
with each existing cluster's first member, as Qwen's `group_pred`). The
math_verify clustering can be run on a subsample of problems
(`--mv_cluster_problems`) and its rate extrapolated.

Usage:
    python benchmarks/grading.py
    python benchmarks/grading.py --mv_cluster_problems=500
"""

import collections
import decimal
import json
import os
import pathlib
import random
import re
import sys
import time

from absl import app
from absl import flags

from keras_mathft.grading import answers_equivalent
from keras_mathft.grading import cluster_answers
from keras_mathft.grading import grading_stats
from keras_mathft.grading import normalize_answer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from grading_machine import machine  # noqa: E402

_DEFAULT_DATA = (
    pathlib.Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "prm800k"
    / "math_splits"
    / "test.jsonl"
)
FLAGS = flags.FLAGS
flags.DEFINE_string(
    "math500",
    os.environ.get("KERAS_MATHFT_MATH500", str(_DEFAULT_DATA)),
    "Path to MATH500 (prm800k/math_splits/test.jsonl).",
)
flags.DEFINE_integer("num_answers", 64, "Answers clustered per problem.")
flags.DEFINE_integer(
    "mv_cluster_problems",
    100,
    "Problems clustered with pairwise math_verify (rate extrapolated to "
    "all problems).",
)
flags.DEFINE_integer("seed", 0, "Seed for drawing the 64 answers.")
flags.DEFINE_bool("show_errors", False, "Print every disagreement.")


# ----------------------------------------------------------------------
# Variant generator.
# ----------------------------------------------------------------------
_INT_RE = re.compile(r"^-?\d+$")
_FRAC_RE = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$")


def _split_top(s, separators):
    parts, depth, current = [], 0, ""
    for char in s:
        depth += char in "({[" and 1 or 0
        depth -= char in ")}]" and 1 or 0
        if depth == 0 and char in separators:
            parts.append(current)
            current = ""
            if char != ",":
                current = char
            continue
        current += char
    parts.append(current)
    return parts


def _terminating(denominator):
    for p in (2, 5):
        while denominator % p == 0:
            denominator //= p
    return denominator == 1


def equivalent_variants(answer):
    """(category, rewrite) pairs that keep the value (by construction)."""
    out = []
    # Spaces removed, except the one that ends a command (`\\cot x`).
    out.append(
        ("spacing", re.sub(r"(?<![a-zA-Z]) +| +(?![a-zA-Z])", "", answer))
    )
    if "\\frac" in answer:
        out.append(("dfrac", answer.replace("\\frac", "\\dfrac")))
        simple = re.sub(r"\\frac\{([^{}]+)\}\{([^{}]+)\}", r"(\1)/(\2)", answer)
        # Not after a digit: `1\\frac{4}{5}` is a mixed number.
        if simple != answer and not re.search(r"\d\s*\\frac", answer):
            out.append(("frac as a/b", simple))
    if _INT_RE.match(answer):
        n = int(answer)
        out += [
            ("integer as decimal", f"{n}.0"),
            ("unreduced fraction", f"\\frac{{{2 * n}}}{{2}}"),
            ("x= label", f"x = {n}"),
        ]
        if abs(n) >= 10000:
            out.append(("thousands separator", f"{n:,}"))
        if n >= 8 and n & (n - 1) == 0:
            out.append(("power", f"2^{{{n.bit_length() - 1}}}"))
        if n and n % 1000 == 0:
            out.append(("power", f"{n // 1000} \\times 10^3"))
    match = _FRAC_RE.match(answer)
    if match:
        sign, a, b = match.group(1), int(match.group(2)), int(match.group(3))
        out += [
            ("frac as a/b", f"{sign}{a}/{b}"),
            ("unreduced fraction", f"{sign}\\frac{{{3 * a}}}{{{3 * b}}}"),
        ]
        if _terminating(b):
            value = decimal.Decimal(a) / decimal.Decimal(b)
            out.append(("exact decimal", sign + format(value.normalize(), "f")))
        if a > b:
            out.append(
                ("mixed number", f"{sign}{a // b}\\frac{{{a % b}}}{{{b}}}")
            )
    root = re.search(r"(\d*)\s*\\sqrt\{(\d+)\}", answer)
    if root:
        out.append(
            (
                "sqrt as power",
                answer[: root.start()]
                + f"{root.group(1)}({root.group(2)})^{{1/2}}"
                + answer[root.end() :],
            )
        )
        if root.group(1):
            inside = int(root.group(1)) ** 2 * int(root.group(2))
            out.append(
                (
                    "coefficient under sqrt",
                    answer[: root.start()]
                    + f"\\sqrt{{{inside}}}"
                    + answer[root.end() :],
                )
            )
    label = re.match(r"^([a-z]) = (.*)$", answer)
    if label:
        # The same equation with everything on one side.
        rest = label.group(2)
        out.append(("equation rearranged", f"{rest} - {label.group(1)} = 0"))
    if "^\\circ" in answer:
        out.append(("degree sign", answer.replace("^\\circ", "")))
    text = re.match(r"^\\text\{\(?([^{}()]*)\)?\}$", answer)
    if text:
        out.append(("text unwrapped", text.group(1)))
    is_list = re.match(r"^[^()\[\]{}=]*,", answer) and "\\!" not in answer
    if is_list and not re.match(r"^\d{1,3}(,\d{3})+$", answer):
        out.append(("list order", ", ".join(reversed(answer.split(",")))))
    if answer.startswith("(") and answer.endswith(")") and "," in answer:
        out.append(("\\left(", "\\left(" + answer[1:-1] + "\\right)"))
    if "pmatrix" in answer:
        out.append(("bmatrix", answer.replace("pmatrix", "bmatrix")))
    if not re.search(r"[=<>,]|\\pm|\\text|_", answer):
        terms = [t for t in _split_top(answer, "+-") if t.strip()]
        if 1 < len(terms) <= 12 and not answer.lstrip().startswith("\\"):
            reordered = terms[::-1]
            joined = " ".join(
                t if t.startswith(("+", "-")) else "+" + t for t in reordered
            )
            out.append(("terms reordered", joined.lstrip("+").strip()))
    return out


def different_variants(answer, rng, text_answers):
    """(category, rewrite) pairs that change the value (by construction)."""
    out = []
    if _INT_RE.match(answer):
        n = int(answer)
        out += [("off by one", str(n + 1)), ("other number", str(10 * n + 3))]
        if n:
            out.append(("sign", str(-n)))
    match = _FRAC_RE.match(answer)
    if match:
        sign, a, b = match.group(1), int(match.group(2)), int(match.group(3))
        if a != b:
            out.append(("reciprocal", f"{sign}\\frac{{{b}}}{{{a}}}"))
        out.append(("off by one", f"{sign}\\frac{{{a + 1}}}{{{b}}}"))
        if not _terminating(b):
            # 6 significant decimals: not equal to a repeating fraction.
            approx = f"{a / b:.6f}"
            out.append(("rounded decimal", sign + approx))
    if re.search(r"\\pi|\\sqrt", answer) and not re.search(
        r"[=<>,]|\\pm|_|\\text|\\begin|\\cup|[a-z]\b",
        answer.replace("\\pi", "").replace("\\sqrt", "").replace("\\frac", ""),
    ):
        value = _numeric(answer)
        if value is not None:
            out.append(("rounded decimal", f"{value:.5f}"))
    number = re.search(r"\d+", answer)
    if number and not _INT_RE.match(answer) and "_" not in answer:
        bumped = str(int(number.group(0)) + 1)
        out.append(
            (
                "off by one",
                answer[: number.start()] + bumped + answer[number.end() :],
            )
        )
    if answer.startswith(("(", "\\left(")) and "," in answer:
        body = answer.replace("\\left(", "(").replace("\\right)", ")")
        items = _split_top(body.strip()[1:-1], ",")
        if len(items) >= 2 and items[0].strip() != items[1].strip():
            items[0], items[1] = items[1], items[0]
            out.append(("tuple order", "(" + ",".join(items) + ")"))
    if re.match(r"^(\\left)?[(\[].*[)\]]$", answer) and "\\cup" not in answer:
        for old, new in (("(", "["), ("[", "(")):
            if answer.replace("\\left", "").startswith(old):
                index = answer.index(old)
                out.append(
                    ("bracket", answer[:index] + new + answer[index + 1 :])
                )
                break
    if answer.startswith("\\text"):
        others = [t for t in text_answers if t.lower() != answer.lower()]
        out.append(("other text", rng.choice(others)))
    elif (
        not re.search(r"[=<>,]|\\pm|_|\\text|\\begin|\\cup", answer)
        and answer.strip() not in ("0",)
        and not answer.startswith("-")
    ):
        out.append(("sign", f"-({answer})"))
    return out


def _numeric(answer):
    """Float value of a constant answer, through our own safe parser."""
    from keras_mathft.grading import equivalence

    structure = equivalence.analyze(answer).structure
    if structure is None or structure[0] != "expr":
        return None
    prints = structure[1].print
    if prints is None or abs(prints[0].imag) > 1e-12:
        return None
    return prints[0].real


def build_pairs(records):
    rng = random.Random(1234)
    text_answers = [
        r["answer"] for r in records if r["answer"].startswith("\\text")
    ]
    pairs = []
    for index, record in enumerate(records):
        gold = record["answer"]
        seen = {gold}
        for category, variant in equivalent_variants(gold):
            if variant not in seen:
                seen.add(variant)
                pairs.append((index, gold, variant, True, category))
        for category, variant in different_variants(gold, rng, text_answers):
            if variant not in seen:
                seen.add(variant)
                pairs.append((index, gold, variant, False, category))
    return pairs


# ----------------------------------------------------------------------
# Graders.
# ----------------------------------------------------------------------
def _mv_parse(answer):
    import math_verify

    return math_verify.parse("\\boxed{" + answer + "}")


def _mv_equal(gold_parsed, pred_parsed):
    import math_verify

    try:
        return bool(math_verify.verify(gold_parsed, pred_parsed))
    except Exception:  # noqa: BLE001 - math_verify failures count as False
        return False


def mv_cluster(answers):
    """Pairwise greedy clustering with math_verify (Qwen group_pred)."""
    parsed = {}
    clusters = []  # list of (first index, members)
    for i, answer in enumerate(answers):
        if answer not in parsed:
            parsed[answer] = _mv_parse(answer)
        for first, members in clusters:
            if _mv_equal(parsed[answers[first]], parsed[answer]):
                members.append(i)
                break
        else:
            clusters.append((i, [i]))
    return clusters


def _clear_our_caches():
    from keras_mathft.grading import equivalence
    from keras_mathft.grading import normalize

    normalize.clear_normalize_cache()
    equivalence.analyze.cache_clear()


def main(argv):
    del argv
    print("machine:", machine())
    print("backend: none (pure Python grader)")
    records = [json.loads(line) for line in open(FLAGS.math500)]
    pairs = build_pairs(records)
    positives = sum(1 for p in pairs if p[3])
    print(
        f"settings: {len(records)} problems, {len(pairs)} pairs "
        f"({positives} equivalent, {len(pairs) - positives} different), "
        f"num_answers={FLAGS.num_answers}, seed={FLAGS.seed}"
    )
    # Warm-up: start the sympy worker outside every timing.
    answers_equivalent(r"\sin^2 x+\cos^2 x", "1")

    # (a) agreement.
    names = ("ours", "math_verify", "normalized")
    totals = {name: collections.Counter() for name in names}
    by_category = collections.defaultdict(collections.Counter)
    seconds = {"ours": 0.0, "math_verify": 0.0}
    for _, gold, variant, label, category in pairs:
        start = time.perf_counter()
        ours = answers_equivalent(gold, variant)
        seconds["ours"] += time.perf_counter() - start
        start = time.perf_counter()
        mv = _mv_equal(_mv_parse(gold), _mv_parse(variant))
        seconds["math_verify"] += time.perf_counter() - start
        norm = normalize_answer(gold) == normalize_answer(variant)
        group = (label, category)
        by_category[group]["pairs"] += 1
        for name, verdict in zip(names, (ours, mv, norm)):
            totals[name][label] += verdict == label
            by_category[group][name] += verdict == label
        if FLAGS.show_errors and (ours != label or mv != label):
            print(
                f"  label={label} ours={ours} mv={mv}: {gold!r} vs {variant!r}"
            )
    negatives = len(pairs) - positives
    print("\n(a) agreement with the construction labels")
    print("| grader | equivalent pairs | different pairs | all pairs |")
    print("| --- | --- | --- | --- |")
    for name in names:
        pos, neg = totals[name][True], totals[name][False]
        print(
            f"| {name} | {pos}/{positives} ({100 * pos / positives:.1f}%) "
            f"| {neg}/{negatives} ({100 * neg / negatives:.1f}%) "
            f"| {100 * (pos + neg) / len(pairs):.2f}% |"
        )
    print("\nper rewrite (correct verdicts / pairs)")
    print("| label | rewrite | pairs | ours | math_verify | normalized |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (label, category), counts in sorted(
        by_category.items(), key=lambda item: (not item[0][0], item[0][1])
    ):
        kind = "equivalent" if label else "different"
        print(
            f"| {kind} | {category} | {counts['pairs']} | "
            + " | ".join(str(counts[name]) for name in names)
            + " |"
        )
    print(
        f"grading time for all pairs: ours {seconds['ours']:.2f} s, "
        f"math_verify {seconds['math_verify']:.2f} s"
    )

    # (b) clustering throughput.
    rng = random.Random(FLAGS.seed)
    by_problem = {}
    for index, gold, variant, *_ in pairs:
        by_problem.setdefault(index, [gold]).append(variant)
    batches = []
    for index in range(len(records)):
        pool = by_problem.get(index, [records[index]["answer"]])
        batches.append([rng.choice(pool) for _ in range(FLAGS.num_answers)])
    _clear_our_caches()
    stats_before = grading_stats()
    start = time.perf_counter()
    ours_clusters = [cluster_answers(batch) for batch in batches]
    ours_seconds = time.perf_counter() - start
    stats = grading_stats()
    total = len(batches) * FLAGS.num_answers
    mv_batches = batches[: FLAGS.mv_cluster_problems]
    start = time.perf_counter()
    mv_clusters = [mv_cluster(batch) for batch in mv_batches]
    mv_seconds = time.perf_counter() - start
    mv_total = len(mv_batches) * FLAGS.num_answers
    same = sum(
        sorted(tuple(c.members) for c in ours)
        == sorted(tuple(m) for _, m in theirs)
        for ours, theirs in zip(ours_clusters, mv_clusters)
    )
    print("\n(b) clustering throughput")
    print(
        f"ours: {total} answers ({len(batches)} problems x "
        f"{FLAGS.num_answers}) in {ours_seconds:.2f} s = "
        f"{total / ours_seconds:,.0f} answers/s; sympy tasks "
        f"{stats['symbolic_tasks'] - stats_before['symbolic_tasks']}, "
        f"timeouts {stats['timeouts'] - stats_before['timeouts']}"
    )
    extrapolated = mv_seconds * len(batches) / max(len(mv_batches), 1)
    print(
        f"math_verify pairwise: {mv_total} answers ({len(mv_batches)} "
        f"problems) in {mv_seconds:.2f} s = {mv_total / mv_seconds:,.0f} "
        f"answers/s; all {len(batches)} problems extrapolated: "
        f"{extrapolated:.1f} s"
    )
    print(
        f"speed-up: {(total / ours_seconds) / (mv_total / mv_seconds):.1f}x; "
        f"identical partitions on the {len(mv_batches)} shared problems: "
        f"{same}/{len(mv_batches)}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    app.run(main)
