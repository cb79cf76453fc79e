"""
Title: Grading math answers: extraction, equivalence and clustering
Author: keras_mathft contributors
Date created: 2026/11/24
Last modified: 2026/11/24
Description: Read final answers out of solutions, decide equivalence, and
    cluster 64 sampled answers the way maj1@N and re-ranking need.
Accelerator: None (pure Python, runs in a few seconds)

`keras_mathft.grading` is pure Python: it never imports keras, jax or
tensorflow, so no backend needs to be chosen here.
"""

import random
import time

from keras_mathft.grading import answers_equivalent
from keras_mathft.grading import cluster_answers
from keras_mathft.grading import extract_answer_record
from keras_mathft.grading import grading_stats
from keras_mathft.grading import normalize_answer

"""
## Extracting final answers

The last `\\boxed{...}` wins (nested braces are matched); without a box,
answer phrases ("Final Answer:", "The answer is", "Answer:", "####", in
any case), then the last math and then the last number of the final
sentence are tried. `extract_answer_record` also says which rule fired,
so reports can count answers by rule. Text without an answer gives
`None`.
"""

solutions = [
    r"So $r = 3$ and $\theta = \frac{\pi}{2}$: "
    r"$\boxed{\left( 3, \frac{\pi}{2} \right)}$.",
    r"Adding, $x = \boxed{\dfrac{14}{3}}$.",
    "Final Answer: The final answer is $10\\%$. I hope it is correct.",
    "Final Answer: The largest $n$ is 34.",
    "She has 48 clips in May.\n#### 72",
    r"Therefore $x \geq 5$ is the solution.",
    "So she has 12 apples left.",
    "I am not sure how to finish this.",
]
print("== extract_answer_record / normalize_answer")
for solution in solutions:
    record = extract_answer_record(solution)
    normalized = normalize_answer(record.answer)
    print(f"  {record.rule!s:14} {record.answer!r:38} -> {normalized!r}")

"""
## Deciding equivalence

Cheap checks first (strings, normalized strings, exact canonical forms);
only what they cannot settle goes to sympy in a worker process, within
one wall-clock deadline per call. Every verdict is symmetric; a labelled
list is the list of its values, and a tuple (ordered) is never a list.
"""

pairs = [
    (r"\frac{1}{2}", "0.5"),
    (r"\frac{\sqrt{3}}{2}", r"\sqrt3/2"),
    ("2^{10}", "1024"),
    ("1/3", "0.333333"),
    ("(1,2)", "[1,2]"),
    (r"1 \pm \sqrt{19}", r"1-\sqrt{19}, 1+\sqrt{19}"),
    ("x=5", "5"),
    ("(p,q)=(3,2)", "(3, 2)"),
    ("k = 45, n = 2", "n = 2, k = 45"),
    ("x = 1, y = 2", "1, 2"),
    (r"6 \text{ and } 8", "8, 6"),
    ("x = 5+5+1 = 11", "11"),
    ("14{,}916", "14916"),
    ("3x-y+13=0", "3x+4y+14=0"),
    (r"\begin{pmatrix} 1/5 \\ -18/5 \end{pmatrix}", "(0.2, -3.6)"),
    (r"\sin^2 x + \cos^2 x", "1"),
    ("52_8", "42"),
    (r"\text{(C)}", "C"),
    ("__import__('os').system('echo pwned')", "0"),
]
print("\n== answers_equivalent")
for a, b in pairs:
    print(f"  {answers_equivalent(a, b)!s:5}  {a}  vs  {b}")

"""
## Clustering 64 sampled answers

`cluster_answers` hashes cheap keys first and compares only cluster
representatives, so 64 answers cost a handful of comparisons. `None`
(no answer extracted) belongs to no cluster.
"""

rng = random.Random(0)
forms = [
    r"\frac{14}{3}",
    r"\dfrac{14}{3}",
    "14/3",
    r"4\frac{2}{3}",
    r"\frac{28}{6}",
    "4.67",
    "5",
    "x = 5",
    r"\frac{3}{14}",
    None,
]
answers = [rng.choice(forms) for _ in range(64)]
start = time.perf_counter()
clusters = cluster_answers(answers)
elapsed = time.perf_counter() - start
print(f"\n== cluster_answers: 64 answers in {1000 * elapsed:.1f} ms")
for cluster in clusters:
    members = ", ".join(map(str, cluster.members[:8]))
    more = "..." if cluster.size > 8 else ""
    print(
        f"  {cluster.size:3} x {cluster.representative!r:18} [{members}{more}]"
    )
print(f"  majority answer: {clusters[0].representative!r}")
print(f"\n== grading_stats: {grading_stats()}")
