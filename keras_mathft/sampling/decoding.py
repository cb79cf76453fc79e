"""The compiled programs of the N-sample decoder over keras-hub causal LMs.

Two schedules share the token choice (`token_choice.choose_tokens`) and the
random stream, so a sample is the same whichever ran it:

- static: a chunk of prompts is prefilled, each prompt's cache repeated to
  its rows, and one while loop decodes every row at one shared position
  until the chunk's longest row stops (rows that stopped early idle).
- continuous: a fixed pool of row slots, each at its own position (the
  model call is mapped over rows, `compiled.per_row_map`), decoded in
  blocks of steps; between blocks the host moves finished rows out and
  refills their slots, by prefilling a new prompt (`prefill_prompt`)
  and writing it into one slot (`write_slot`), or by copying a prompt's
  cache from a slot that holds it (`copy_slot`).

A call whose prompts share a long common prefix prefills them in two
stages (`common_prefix`): the prefix once into a one-row cache of its own
length (`prefix_fill`), then each prompt's own tokens from it, padded to
the prompt's length (`prefill_prompt_after`; the static chunk's
`prefix_length`).

`DecodePrograms` owns the compiled functions (`models.compiled
.CompiledFunctions`): they are dropped when the model's variables change.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_mathft.models.cache_layout import CacheLayout
from keras_mathft.models.compiled import CompiledFunctions
from keras_mathft.models.compiled import compile_inference_function
from keras_mathft.models.compiled import per_row_map
from keras_mathft.models.families import inference_attention
from keras_mathft.models.sharding import constrain_cache
from keras_mathft.models.sharding import constrain_rows
from keras_mathft.sampling.token_choice import choose_tokens


class DecodePrograms:
    """Compiled prefill, copy and decode functions for one causal LM.

    Each getter returns the function for one set of static shapes and
    settings, compiling it on first use.

    Args:
        causal_lm: a keras-hub `CausalLM` with `call_with_cache`.
        stop_token_ids: tuple of int; a row stops after emitting one.
        pad_token_id: int, written after a row stops (static schedule).
        jit_compile: bool. XLA on TensorFlow.
        top_p_prefilter: int. Tokens searched for the nucleus first.
    """

    def __init__(
        self,
        causal_lm,
        stop_token_ids,
        pad_token_id,
        jit_compile=True,
        top_p_prefilter=128,
    ):
        self.causal_lm = causal_lm
        self.layout = CacheLayout(causal_lm)
        self.functions = CompiledFunctions(causal_lm)
        self.stop_token_ids = tuple(stop_token_ids)
        self.pad_token_id = int(pad_token_id)
        self.jit_compile = jit_compile
        self.top_p_prefilter = int(top_p_prefilter)

    def _compile(self, key, fn, donate=(), per_row=False):
        # `per_row_map` needs XLA on TensorFlow.
        jit_compile = True if per_row else self.jit_compile

        def traced(*args):
            with inference_attention(self.causal_lm):
                return fn(*args)

        return self.functions.get(
            key,
            lambda: compile_inference_function(
                self.causal_lm, traced, jit_compile, donate=donate
            ),
        )

    def _stops(self):
        return ops.convert_to_tensor(list(self.stop_token_ids) or [-1], "int32")

    def _choose(self, logits, keys, positions, temperature, top_p, choice):
        mode, top_k = choice
        return choose_tokens(
            constrain_rows(logits),
            keys,
            positions,
            mode=mode,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            prefilter=self.top_p_prefilter,
        )

    # === Static schedule ===

    def static_chunk(self, samples, total_length, choice, prefix_length=0):
        """`(prompts, lengths, keys, limits, temperature, top_p)` ->
        `(tokens [rows, total_length], steps)`.

        `prompts` is `[P, L]` (right-padded), `lengths` `[P]`; `keys` and
        `limits` (the position a row stops at) are `[P * samples]`. With
        `prefix_length`, the function takes the common prefix's cache
        first (`prefix_fill(prefix_length)`) and prefills only
        `prompts[:, prefix_length:]` from it.
        """

        def fn(prompts, lengths, keys, limits, temperature, top_p):
            return self._static(
                prompts,
                lengths,
                keys,
                limits,
                temperature,
                top_p,
                samples=samples,
                total_length=total_length,
                choice=choice,
            )

        def after_prefix(prefix_cache, *args):
            return self._static(
                *args,
                samples=samples,
                total_length=total_length,
                choice=choice,
                prefix=(prefix_length, prefix_cache),
            )

        if prefix_length:
            key = ("static", samples, total_length, choice, prefix_length)
            return self._compile(key, after_prefix)
        return self._compile(("static", samples, total_length, choice), fn)

    def _static(
        self,
        prompts,
        lengths,
        keys,
        limits,
        temperature,
        top_p,
        *,
        samples,
        total_length,
        choice,
        prefix=None,
    ):
        lm = self.causal_lm
        num_prompts, prompt_len = ops.shape(prompts)
        rows = num_prompts * samples
        cache = self._static_prefill(prompts, total_length, prefix)
        tokens = ops.pad(prompts, [[0, 0], [0, total_length - prompt_len]])
        if samples > 1:
            cache = keras.tree.map_structure(
                lambda x: ops.repeat(x, samples, axis=0), cache
            )
            cache = constrain_cache(self.layout, cache)
            tokens = ops.repeat(tokens, samples, axis=0)
            lengths = ops.repeat(lengths, samples, axis=0)
        stops = self._stops()

        def cond(index, tokens, cache, done):
            return ops.logical_and(
                index < total_length, ops.logical_not(ops.all(done))
            )

        def body(index, tokens, cache, done):
            prev = ops.slice(tokens, [0, index - 1], [rows, 1])
            logits, _, cache = lm.call_with_cache(prev, cache, index - 1)
            positions = ops.full((rows,), index, "int32")
            nxt = self._choose(
                logits[:, -1, :], keys, positions, temperature, top_p, choice
            )
            given = ops.slice(tokens, [0, index], [rows, 1])[:, 0]
            in_prompt = index < lengths
            nxt = ops.where(done, self.pad_token_id, nxt)
            nxt = ops.where(in_prompt, given, nxt)
            tokens = ops.slice_update(tokens, [0, index], nxt[:, None])
            stopped = ops.any(nxt[:, None] == stops[None, :], axis=-1)
            stopped = ops.logical_and(stopped, ops.logical_not(in_prompt))
            done = ops.logical_or(done, stopped)
            done = ops.logical_or(done, index + 1 >= limits)
            return index + 1, tokens, cache, done

        start = ops.cast(ops.min(lengths), "int32")
        end, tokens, _, _ = ops.while_loop(
            cond, body, (start, tokens, cache, limits <= lengths)
        )
        return tokens, end - start

    def _static_prefill(self, prompts, total_length, prefix):
        """The chunk's cache: in one stage, or with `prefix = (length,
        cache)` from the common prefix's cache."""
        num_prompts, prompt_len = ops.shape(prompts)
        if prefix is None:
            cache = self.layout.zeros(num_prompts, total_length)
            _, _, cache = self.causal_lm.call_with_cache(prompts, cache, 0)
            return cache
        length, prefix_cache = prefix
        rest = ops.slice(
            prompts, [0, length], [num_prompts, prompt_len - length]
        )
        return self._after_prefix(rest, length, prefix_cache, total_length)

    # === Continuous schedule ===

    @functools.cached_property
    def pool_layout(self):
        """The continuous pool's cache layout: `[rows, 1, ...]` per leaf.

        The decode step maps the model over rows, each a batch of one; a
        pool already in that shape enters and leaves the compiled loop as
        it is. Added inside the program, the unit axis cost two copies of
        every leaf per block call (1.3 s a call for Gemma 3 270M at 64
        rows, `benchmarks/README.md`).
        """
        return self.layout.per_row()

    def prefill_prompt(self, prompt_length):
        """`(prompt [1, prompt_length]) -> cache [1, prompt_length]`.

        A prompt's keys and values, one row of the prompt's length, for
        `write_slot`. The pool is not an argument, so the program is
        compiled once per prompt length, whatever the pool's size.
        """

        def fn(prompt):
            cache = self.layout.zeros(1, prompt_length)
            _, _, cache = self.causal_lm.call_with_cache(prompt, cache, 0)
            return constrain_cache(self.layout, cache)

        return self._compile(("prefill", prompt_length), fn)

    def write_slot(self, prompt_length):
        """`(cache, prompt_cache, slot) -> cache`.

        Writes a prompt's cache (`prefill_prompt`, `[1, prompt_length]`)
        into positions `[0, prompt_length)` of one slot of the pool; the
        rest of the slot is left as it is (a row never reads past its own
        position).
        """

        layout = self.pool_layout

        def fn(cache, small, slot):
            def write(spec, big, part):
                start = [slot] + [0] * (len(spec[0]) - 1)
                part = ops.expand_dims(ops.cast(part, big.dtype), 1)
                return ops.slice_update(big, start, part)

            return constrain_cache(layout, layout.map(write, cache, small))

        return self._compile(("write", prompt_length), fn, donate=(0,))

    # === A common prefix, prefilled once (`common_prefix`) ===

    def prefix_fill(self, prefix_length):
        """`(prefix [1, prefix_length]) -> cache [1, prefix_length]`.

        The first stage of a two-stage prefill: the common prefix's keys
        and values, one row of its own length (the same for every prompt
        length and schedule).
        """

        def fn(prefix):
            cache = self.layout.zeros(1, prefix_length)
            _, _, cache = self.causal_lm.call_with_cache(prefix, cache, 0)
            return constrain_cache(self.layout, cache)

        return self._compile(("prefix", prefix_length), fn)

    def prefill_prompt_after(self, prompt_length, prefix_length):
        """`(prefix_cache, rest) -> cache [1, prompt_length]`.

        The second stage of a two-stage prefill: `rest` is a prompt's
        tokens `[prefix_length, prompt_length)` (`[1, prompt_length -
        prefix_length]`), run from `prefix_cache` (`prefix_fill(
        prefix_length)`, which is not changed). Returns the prompt's whole
        cache, as `prefill_prompt` does.
        """

        def fn(prefix_cache, rest):
            cache = self._after_prefix(
                rest, prefix_length, prefix_cache, prompt_length
            )
            return constrain_cache(self.layout, cache)

        key = ("prefill_after", prompt_length, prefix_length)
        return self._compile(key, fn)

    def _after_prefix(self, rest, prefix_length, prefix_cache, length):
        """The `length`-position cache of `rest` (`[P, L - prefix_length]`,
        prompts' tokens from `prefix_length` on) run from the prefix's
        one-row cache."""
        rows = ops.shape(rest)[0]

        def pad(spec, leaf):
            widths = [[0, 0]] * len(leaf.shape)
            widths[spec[1]] = [0, length - prefix_length]
            return ops.pad(leaf, widths)

        cache = self.layout.map(pad, prefix_cache)
        if rows > 1:
            cache = keras.tree.map_structure(
                lambda x: ops.repeat(x, rows, axis=0), cache
            )
            cache = constrain_cache(self.layout, cache)
        _, _, cache = self.causal_lm.call_with_cache(rest, cache, prefix_length)
        return cache

    def copy_slot(self, prompt_length):
        """`(cache, source, target) -> cache`: copies a prompt's positions
        `[0, prompt_length)` from slot `source` to slot `target`."""

        def fn(cache, source, target):
            def copy(spec, leaf):
                shape, axis, _ = spec
                start = [source] + [0] * (len(shape) - 1)
                size = list(ops.shape(leaf))
                size[0], size[axis] = 1, prompt_length
                part = ops.slice(leaf, start, size)
                return ops.slice_update(leaf, [target] + start[1:], part)

            layout = self.pool_layout
            return constrain_cache(layout, layout.map(copy, cache))

        return self._compile(("copy", prompt_length), fn, donate=(0,))

    def gather_rows(self):
        """`(cache, generated, rows) -> (cache, generated)`: the pool's rows
        `rows`, in order (a smaller pool of the rows still decoding)."""

        def fn(cache, generated, rows):
            cache = keras.tree.map_structure(
                lambda leaf: ops.take(leaf, rows, axis=0), cache
            )
            generated = constrain_rows(ops.take(generated, rows, axis=0))
            return constrain_cache(self.pool_layout, cache), generated

        return self._compile(("gather",), fn)

    def decode_block(self, width, choice):
        """One block of at most `steps` decode steps over every slot.

        `(cache, generated [R, width], state, steps, stop_after,
        temperature, top_p) -> (cache, generated, token, position, done,
        steps_run)` where `state = (token, position, keys, limit, start,
        done)`, all `[R]`: the token each slot feeds next and its position,
        the row key, the position the row must stop before, the row's first
        generated position, and whether the row has finished. A generated
        token at position `q` goes to `generated[r, q - start[r]]`. The block
        ends after `steps` steps, when `stop_after` rows have finished in
        it, or when every row has.
        """
        lm = self.causal_lm

        def step(cache, token, position):
            def one(row):
                token, position, cache = row
                logits, _, cache = lm.call_with_cache(
                    ops.reshape(token, (1, 1)), cache, position
                )
                return logits[0, 0], cache

            return per_row_map(one, (token, position, cache))

        def fn(cache, generated, state, steps, stop_after, temperature, top_p):
            token, position, keys, limit, start, done = state
            stops = self._stops()
            columns = ops.arange(width, dtype="int32")[None, :]

            def cond(i, finished, cache, generated, token, position, done):
                more = ops.logical_and(i < steps, finished < stop_after)
                return ops.logical_and(more, ops.logical_not(ops.all(done)))

            def body(i, finished, cache, generated, token, position, done):
                logits, cache = step(cache, token, position)
                drawn = position + 1
                nxt = self._choose(
                    logits, keys, drawn, temperature, top_p, choice
                )
                live = ops.logical_not(done)
                at = ops.logical_and(
                    live[:, None], columns == (drawn - start)[:, None]
                )
                generated = ops.where(at, nxt[:, None], generated)
                stopped = ops.any(nxt[:, None] == stops[None, :], axis=-1)
                ends = ops.logical_and(
                    live, ops.logical_or(stopped, drawn + 1 >= limit)
                )
                finished = finished + ops.sum(ops.cast(ends, "int32"))
                token = ops.where(live, nxt, token)
                position = ops.where(live, drawn, position)
                done = ops.logical_or(done, ends)
                return i + 1, finished, cache, generated, token, position, done

            zero = ops.convert_to_tensor(0, "int32")
            out = ops.while_loop(
                cond,
                body,
                (zero, zero, cache, generated, token, position, done),
            )
            steps_run, _, cache, generated, token, position, done = out
            cache = constrain_cache(self.pool_layout, cache)
            return cache, generated, token, position, done, steps_run

        return self._compile(
            ("block", width, choice), fn, donate=(0, 1), per_row=True
        )


def as_int32(values):
    """A host int32 array, ready to pass to a compiled program."""
    return np.asarray(values, dtype="int32")
