"""Evaluator scores of many candidates, each problem's prefix run once.

The evaluation prompt is "problem, candidate, template tail", so the N
candidates of one problem share their first tokens. `SolutionScorer`
tokenizes every prompt exactly as the full-prompt scorer does, takes the
longest token prefix common to a problem's candidates (exact whatever the
tokenizer does at the boundary), prefills it once, and runs each candidate's
remaining tokens against a copy of that cache: one pass over the candidate
and the template tail, reading the hidden state of its last token only
(never `[B, T, V]` logits). Label words of several tokens add one short
pass per label over the label tokens, from the cache after the candidate.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.data.tokenization import tokenize_prompts
from keras_mathft.models import losses
from keras_mathft.models import sharding
from keras_mathft.models.cache_layout import CacheLayout
from keras_mathft.models.compiled import CompiledFunctions
from keras_mathft.models.compiled import compile_inference_function
from keras_mathft.models.compiled import per_row_map
from keras_mathft.models.evaluator_data import bucketed_scores
from keras_mathft.models.evaluator_data import evaluation_texts


class SolutionScorer:
    """Computes `S = p(correct) / (p(correct) + p(incorrect))` in batches.

    Owns its compiled functions (`CompiledFunctions`); `MathSolver` keeps
    one scorer and drops it on `compile()` and `enable_lora()`.

    Args:
        solver: a `MathSolver` (its causal LM, template, tokenizer and
            label token ids are used).

    Example:

    >>> scorer = SolutionScorer(solver)  # doctest: +SKIP
    >>> scorer.score(["1+1?"] * 2, ["2", "3"])  # doctest: +SKIP
    array([0.62, 0.41], dtype=float32)
    """

    def __init__(self, solver):
        self.solver = solver
        self.layout = CacheLayout(solver.causal_lm)
        self.functions = CompiledFunctions(solver)

    # === Full prompts (one pass per candidate over the whole prompt) ===

    def full_prompt_function(self):
        """The compiled `(token_ids, padding_mask) -> S` over full prompts."""

        def score_step(token_ids, padding_mask):
            lp = self.solver.label_log_probs(token_ids, padding_mask)
            return losses.evaluator_score(lp[:, 0], lp[:, 1])

        return self.functions.get(
            "full",
            lambda: compile_inference_function(self.solver, score_step),
        )

    def score(
        self,
        problems,
        solutions,
        batch_size=16,
        sequence_length=None,
        share_prefix=True,
    ):
        """Scores of `solutions[i]` for `problems[i]`.

        Args:
            problems: list of str (or objects with `.problem`), one per
                solution, in any order; equal problems are grouped.
            solutions: list of str.
            batch_size: int. Candidates per compiled call.
            sequence_length: int; defaults to the preprocessor's. Longer
                prompts keep their start and their last tokens.
            share_prefix: bool. Run each problem's prefix once (True) or
                every full prompt (False, the reference path).

        Returns:
            float32 numpy array `[N]`.

        Raises:
            ValueError: when the lists differ in length.
        """
        solver = self.solver
        texts = evaluation_texts(solver.prompt_template, problems, solutions)
        if not texts:
            return np.zeros((0,), "float32")
        sequence_length = sequence_length or solver.preprocessor.sequence_length
        correct, incorrect = solver.label_token_ids
        if len(correct) > 1 or len(incorrect) > 1:
            # Multi-token labels follow the prompt; keep the total within
            # the model's sequence length.
            sequence_length -= max(len(correct), len(incorrect))
        if not share_prefix:
            return bucketed_scores(
                solver.tokenizer,
                texts,
                self.full_prompt_function(),
                batch_size,
                sequence_length,
            )
        keys = [getattr(p, "problem", p) for p in problems]
        # Each problem's prompt with an empty candidate bounds its prefix to
        # the problem part, even for a lone candidate.
        distinct = list(dict.fromkeys(keys))
        heads = evaluation_texts(
            solver.prompt_template, distinct, [""] * len(distinct)
        )
        x, _ = tokenize_prompts(
            solver.tokenizer,
            texts + heads,
            sequence_length,
            padding_side="right",
        )
        lengths = x["padding_mask"].sum(axis=1)
        ids = [row[:n] for row, n in zip(x["token_ids"], lengths)]
        ids, heads = ids[: len(texts)], dict(zip(distinct, ids[len(texts) :]))
        scores = np.zeros((len(texts),), "float32")
        model_max = getattr(solver.backbone, "max_sequence_length", None)
        model_max = model_max or math.inf
        chunks = _chunks(keys, ids, heads, batch_size)
        groups = _prefixes_per_batch(chunks, batch_size)
        # One prefix length per call, the candidates' length per batch: few
        # compiled shapes, little padding (batches go shortest first).
        prefix_len = geometric_bucket(max(c.prefix for c in chunks), minimum=16)
        prefix_len = min(prefix_len, model_max)
        for batch in _batches(chunks, batch_size, groups, model_max):
            rows = [r for chunk in batch for r in chunk.rows]
            scores[rows] = self._score_batch(
                batch, ids, batch_size, groups, prefix_len, model_max
            )
        return scores

    def _score_batch(
        self, batch, ids, batch_size, groups, prefix_len, model_max
    ):
        solver = self.solver
        prefix_max = max(c.prefix for c in batch)
        suffix_len = geometric_bucket(max(c.longest for c in batch), minimum=16)
        # Learned position tables (GPT-2) must hold every padded row.
        suffix_len = int(min(suffix_len, model_max - prefix_max))
        correct, incorrect = solver.label_token_ids
        total = prefix_len + suffix_len + max(len(correct), len(incorrect))
        pad = getattr(solver.tokenizer, "pad_token_id", 0) or 0

        prefixes = np.full((groups, prefix_len), pad, "int32")
        padded = batch + [batch[0]] * (groups - len(batch))
        for g, chunk in enumerate(padded):
            first = ids[chunk.rows[0]]
            prefixes[g, : chunk.prefix] = first[: chunk.prefix]
        row_group, starts = [], []
        suffix = np.full((batch_size, suffix_len), pad, "int32")
        suffix_lengths = []
        for g, chunk in enumerate(batch):
            for r in chunk.rows:
                tail = ids[r][chunk.prefix :]
                suffix[len(row_group), : len(tail)] = tail
                row_group.append(g)
                starts.append(chunk.prefix)
                suffix_lengths.append(len(tail))
        real = len(row_group)
        for _ in range(batch_size - real):  # padding repeats row 0
            suffix[len(row_group)] = suffix[0]
            row_group.append(row_group[0])
            starts.append(starts[0])
            suffix_lengths.append(suffix_lengths[0])
        fn = self._prefix_function(groups, prefix_len, batch_size, total)
        inputs = (
            prefixes,
            np.asarray(row_group, "int32"),
            np.asarray(starts, "int32"),
            suffix,
            np.asarray(suffix_lengths, "int32"),
        )
        if sharding.model_axis_size(sharding.row_distribution()) > 1:
            # Under a `model` axis rows go over `batch` (data parallel
            # runs keep their replicated rows, bit for bit).
            inputs = [sharding.distribute_rows(x) for x in inputs]
        out = fn(*inputs)
        return np.asarray(ops.convert_to_numpy(out))[:real]

    def _prefix_function(self, groups, prefix_len, rows, total):
        solver = self.solver
        lm = solver.causal_lm
        correct, incorrect = solver.label_token_ids

        def run_rows(tokens, starts, cache):
            # Every row at its own position: one call per row, vectorized.
            def one(row):
                tokens, start, cache = row
                cache = _add_batch(cache)
                _, hidden, cache = lm.call_with_cache(
                    tokens[None, :], cache, start
                )
                return hidden[0], _drop_batch(cache)

            return per_row_map(one, (tokens, starts, cache))

        def label_log_prob(label, first_logp, starts, ends, cache):
            logp = ops.take(first_logp, label[0], axis=1)
            if len(label) == 1:
                return logp
            rest = ops.convert_to_tensor(label[:-1], "int32")
            tokens = ops.broadcast_to(rest[None, :], (rows, len(rest)))
            hidden, _ = run_rows(tokens, ends, cache)
            step_logp = losses.vocab_log_probs(solver.backbone, hidden)
            for k, token in enumerate(label[1:]):
                logp = logp + step_logp[:, k, token]
            return logp

        def fn(prefixes, row_group, starts, suffix, suffix_lengths):
            cache = sharding.constrain_cache(
                self.layout, self.layout.zeros(groups, total)
            )
            _, _, cache = lm.call_with_cache(prefixes, cache, 0)
            cache = self.layout.map(
                lambda spec, x: ops.take(x, row_group, axis=0), cache
            )
            cache = sharding.constrain_cache(self.layout, cache)
            hidden, cache = run_rows(suffix, starts, cache)
            last = ops.take_along_axis(
                hidden,
                ops.broadcast_to(
                    (suffix_lengths - 1)[:, None, None],
                    (rows, 1, hidden.shape[-1]),
                ),
                axis=1,
            )
            first_logp = losses.vocab_log_probs(solver.backbone, last)[:, 0, :]
            ends = starts + suffix_lengths
            lp = [
                label_log_prob(label, first_logp, starts, ends, cache)
                for label in (correct, incorrect)
            ]
            return losses.evaluator_score(lp[0], lp[1])

        key = ("prefix", groups, prefix_len, rows, total)
        return self.functions.get(
            key, lambda: compile_inference_function(solver, fn, True)
        )


def _add_batch(cache):
    return keras.tree.map_structure(lambda x: x[None], cache)


def _drop_batch(cache):
    return keras.tree.map_structure(lambda x: x[0], cache)


class _Chunk:
    """Rows of one problem scored from one shared prefix."""

    def __init__(self, rows, prefix, longest):
        self.rows = rows
        self.prefix = prefix
        self.longest = longest  # the longest row's tokens after the prefix


def _common_prefix(sequences):
    first = sequences[0]
    n = min(len(s) for s in sequences)
    for seq in sequences[1:]:
        differ = np.flatnonzero(seq[:n] != first[:n])
        n = int(differ[0]) if differ.size else n
    return n


def _chunks(keys, ids, heads, batch_size):
    """Groups rows by problem, shortest candidates first, `batch_size` max.

    The shared prefix is the longest token prefix common to the problem's
    candidates and its empty-candidate prompt (`heads[key]`). Each
    candidate keeps at least its last token out of it: that token's hidden
    state gives the label probabilities.
    """
    groups = {}
    for row, key in enumerate(keys):
        groups.setdefault(key, []).append(row)
    chunks = []
    for key, rows in groups.items():
        prefix = min(
            _common_prefix([heads[key]] + [ids[r] for r in rows]),
            min(len(ids[r]) for r in rows) - 1,
        )
        rows = sorted(rows, key=lambda r: len(ids[r]))
        for start in range(0, len(rows), batch_size):
            part = rows[start : start + batch_size]
            chunks.append(_Chunk(part, prefix, len(ids[part[-1]]) - prefix))
    return chunks


def _prefixes_per_batch(chunks, batch_size):
    """A power of two near `batch_size / typical chunk size`.

    One problem of N >= batch_size candidates prefills one prefix per
    batch; many small problems share a batch.
    """
    sizes = sorted(len(c.rows) for c in chunks)
    typical = sizes[len(sizes) // 2]
    return 1 << int(math.log2(max(1, batch_size // typical)))


def _batches(chunks, batch_size, groups, max_length):
    """Packs chunks into batches of at most `batch_size` rows and `groups`
    prefixes, whose longest prefix plus longest remainder stays within
    `max_length` (rows are padded to both)."""
    batch = []
    for chunk in chunks:
        grown = batch + [chunk]
        fits = (
            len(grown) <= groups
            and sum(len(c.rows) for c in grown) <= batch_size
            and max(c.prefix for c in grown) + max(c.longest for c in grown)
            <= max_length
        )
        if batch and not fits:
            yield batch
            grown = [chunk]
        batch = grown
    if batch:
        yield batch
