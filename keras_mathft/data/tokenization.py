"""Tokenizes (prompt, response) pairs for response-only fine-tuning.

Batches follow keras-hub's `CausalLMPreprocessor` (see CONTRIBUTING.md,
"Generation batches"): each pair becomes
`[start] + prompt + response + [end]`, packed to `sequence_length + 1`
tokens; `token_ids` is the first `sequence_length`, `y` the last
`sequence_length` (so `y` is `token_ids` shifted left by one), and
`sample_weight` is 1 exactly where `y` is a response token or the end
token.

Truncation policy (`truncation=`):

- `"response"` (default): keep the whole prompt and cut the response's
  tail. A cut response loses its end token, so the model never learns to
  stop mid-solution. A pair whose prompt leaves no room for a single
  response token is dropped.
- `"drop"`: drop every pair that does not fit.

Both are counted in a `TokenizationStats` and logged as a warning.
"""

import dataclasses

import numpy as np
from absl import logging

TRUNCATION_POLICIES = ("response", "drop")
PROMPT_TRUNCATIONS = ("keep_end", "keep_start")


@dataclasses.dataclass
class TokenizationStats:
    """Counts from one call to `tokenize_pairs` or `tokenize_prompts`.

    Attributes:
        num_examples: int. Pairs (or prompts) given.
        num_kept: int. Rows in the output.
        num_truncated: int. Kept rows cut to fit `sequence_length`.
        num_dropped: int. Pairs dropped because they could not fit.
        num_tokens_cut: int. Tokens removed from kept rows.
        dropped_indices: list of int. Input indices of dropped pairs.
        longest: int. Longest packed length seen before truncation.
    """

    num_examples: int = 0
    num_kept: int = 0
    num_truncated: int = 0
    num_dropped: int = 0
    num_tokens_cut: int = 0
    dropped_indices: list = dataclasses.field(default_factory=list)
    longest: int = 0


@dataclasses.dataclass
class TokenizedPairs:
    """Fixed-length arrays for response-only causal-LM training.

    Attributes:
        token_ids: int32 `[B, T]`.
        padding_mask: bool `[B, T]`.
        y: int32 `[B, T]`, `token_ids` shifted left by one.
        sample_weight: float32 `[B, T]`, 1 where `y` is a response or end
            token.
        lengths: int32 `[B]`. Non-padding length of each `token_ids` row.
        indices: int32 `[B]`. Input index of each row (drops removed).
        stats: `TokenizationStats`.
    """

    token_ids: np.ndarray
    padding_mask: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray
    lengths: np.ndarray
    indices: np.ndarray
    stats: TokenizationStats

    @property
    def x(self):
        return {"token_ids": self.token_ids, "padding_mask": self.padding_mask}

    def as_tuple(self):
        """Returns `(x, y, sample_weight)` for `model.fit`."""
        return self.x, self.y, self.sample_weight

    def __len__(self):
        return len(self.token_ids)


def tokenize_pairs(
    tokenizer,
    prompts,
    responses,
    sequence_length,
    truncation="response",
    add_start_token=True,
    add_end_token=True,
):
    """Tokenizes (prompt, response) pairs with a response-only loss mask.

    Prompt and response are tokenized separately, so the mask boundary is
    exact whatever the tokenizer merges across it.

    Args:
        tokenizer: a `keras_hub.tokenizers.Tokenizer` (or any callable
            mapping a list of strings to lists of ids, with
            `start_token_id`, `end_token_id` and `pad_token_id`).
        prompts: list of str.
        responses: list of str, as long as `prompts`.
        sequence_length: int. Length `T` of the output rows.
        truncation: `"response"` or `"drop"`; see the module docstring.
            Defaults to `"response"`.
        add_start_token: bool. Prepend `tokenizer.start_token_id` (when the
            tokenizer has one). Defaults to `True`.
        add_end_token: bool. Append `tokenizer.end_token_id`. Defaults to
            `True`.

    Returns:
        A `TokenizedPairs`.

    Raises:
        ValueError: for mismatched lengths, a bad `truncation` or a
            `sequence_length` below 2.

    Example:

    >>> import keras_hub
    >>> vocab = {"<|endoftext|>": 0, "a": 1, "b": 2, "ba": 3}
    >>> tok = keras_hub.tokenizers.GPT2Tokenizer(vocab, merges=["b a"])
    >>> out = tokenize_pairs(tok, ["a"], ["bb"], sequence_length=6)
    >>> out.token_ids.tolist(), out.sample_weight.tolist()
    ([[0, 1, 2, 2, 0, 0]], [[0.0, 1.0, 1.0, 1.0, 0.0, 0.0]])
    """
    prompts, responses = list(prompts), list(responses)
    if len(prompts) != len(responses):
        raise ValueError(
            "`prompts` and `responses` must have the same length. "
            f"Received: {len(prompts)} and {len(responses)}"
        )
    _check_choice("truncation", truncation, TRUNCATION_POLICIES)
    _check_sequence_length(sequence_length)
    start = _start_ids(tokenizer, add_start_token)
    end = _end_ids(tokenizer, add_end_token)
    prompt_ids = token_id_lists(tokenizer, prompts)
    response_ids = token_id_lists(tokenizer, responses)
    # One extra slot: `y` is the packed row shifted left by one.
    packed_length = sequence_length + 1
    stats = TokenizationStats(num_examples=len(prompts))
    rows, head_lengths, kept = _fit_pairs(
        prompt_ids, response_ids, start, end, packed_length, truncation, stats
    )
    stats.num_kept = len(rows)
    _warn(stats, sequence_length)
    pad = pad_token_id(tokenizer)
    return _pairs_arrays(rows, head_lengths, kept, sequence_length, pad, stats)


def tokenize_prompts(
    tokenizer,
    prompts,
    sequence_length=None,
    padding_side="left",
    add_start_token=True,
    truncation="keep_end",
):
    """Tokenizes prompts alone, for generation or evaluator scoring.

    Prompts longer than `sequence_length` are cut as `truncation` says and
    counted (and logged) in the stats.

    Args:
        tokenizer: a keras-hub tokenizer.
        prompts: list of str.
        sequence_length: int or `None`. Row length; `None` uses the longest
            prompt.
        padding_side: `"left"` (the last prompt token sits at the last
            position, handy for reading next-token logits) or `"right"`
            (keras-hub's `generate` layout, and the evaluator's batches).
            Defaults to `"left"`.
        add_start_token: bool. Defaults to `True`.
        truncation: `"keep_end"` keeps the start token and the prompt's
            last tokens: the template's tail (`"Solution:\\n"`, or the
            evaluator's question that the label word continues) is what
            the model reads last, so it must survive. `"keep_start"` keeps
            the first tokens, like keras-hub's packers. Defaults to
            `"keep_end"`.

    Returns:
        `(x, stats)`: `x = {"token_ids": int32[B, T], "padding_mask":
        bool[B, T]}` and a `TokenizationStats`.

    Raises:
        ValueError: for a bad `padding_side`, `truncation` or
            `sequence_length`.

    Example:

    >>> import keras_hub
    >>> vocab = {"<|endoftext|>": 0, "a": 1, "b": 2, "ba": 3}
    >>> tok = keras_hub.tokenizers.GPT2Tokenizer(vocab, merges=["b a"])
    >>> x, _ = tokenize_prompts(tok, ["ab", "a"])
    >>> x["token_ids"].tolist()
    [[0, 1, 2], [0, 0, 1]]
    >>> x, _ = tokenize_prompts(tok, ["aab"], 3, padding_side="right")
    >>> x["token_ids"].tolist()  # start token, then the last two
    [[0, 1, 2]]
    """
    _check_padding_side(padding_side)
    _check_choice("truncation", truncation, PROMPT_TRUNCATIONS)
    prompts = list(prompts)
    start = _start_ids(tokenizer, add_start_token)
    rows = [start + ids for ids in token_id_lists(tokenizer, prompts)]
    stats = TokenizationStats(num_examples=len(rows), num_kept=len(rows))
    stats.longest = max((len(r) for r in rows), default=0)
    if sequence_length is None:
        sequence_length = max(stats.longest, 1)
    _check_sequence_length(sequence_length, minimum=1)
    pad = pad_token_id(tokenizer)
    rows = [
        _cut_prompt(row, len(start), sequence_length, truncation, stats)
        for row in rows
    ]
    token_ids, mask = _pad_rows(rows, sequence_length, pad, padding_side)
    _warn(stats, sequence_length)
    return {"token_ids": token_ids, "padding_mask": mask}, stats


def token_id_lists(tokenizer, texts):
    """The token ids of each text, as lists of Python ints.

    Args:
        tokenizer: a keras-hub tokenizer, or any callable mapping a list of
            strings to lists (or a ragged or dense array) of ids.
        texts: list of str.

    Returns:
        A list of lists of int.

    Raises:
        ValueError: when a text is not a string.
    """
    texts = list(texts)
    if not texts:
        return []
    for text in texts:
        if not isinstance(text, str):
            raise ValueError(
                f"Texts must be strings. Received: {type(text).__name__}"
            )
    out = tokenizer(texts)
    if hasattr(out, "to_list"):  # A tf.RaggedTensor from a tf.data path.
        out = out.to_list()
    elif hasattr(out, "tolist"):  # A dense array.
        out = out.tolist()
    return [[int(t) for t in ids] for ids in out]


def pad_token_id(tokenizer):
    """The id that pads rows: the tokenizer's, or 0 when it has none.

    GPT-2 style tokenizers have no pad token; padding is masked anyway.
    """
    token = getattr(tokenizer, "pad_token_id", None)
    return 0 if token is None else int(token)


def _fit_pairs(
    prompt_ids, response_ids, start, end, packed_length, truncation, stats
):
    """Packs each pair to at most `packed_length` tokens, or drops it.

    Returns `(rows, head_lengths, kept)`: the packed rows, the length of
    each row's start + prompt (where its loss begins) and the input index
    of each row. Cuts and drops are counted in `stats`.
    """
    rows, head_lengths, kept = [], [], []
    for i, (p, r) in enumerate(zip(prompt_ids, response_ids)):
        head = start + p
        full = head + r + end
        stats.longest = max(stats.longest, len(full))
        if len(full) > packed_length:
            # Room for at least one response token after the prompt.
            if truncation == "drop" or len(head) >= packed_length:
                stats.num_dropped += 1
                stats.dropped_indices.append(i)
                continue
            stats.num_truncated += 1
            stats.num_tokens_cut += len(full) - packed_length
            full = full[:packed_length]
        rows.append(full)
        head_lengths.append(len(head))
        kept.append(i)
    return rows, head_lengths, kept


def _pairs_arrays(rows, head_lengths, kept, sequence_length, pad, stats):
    """The `TokenizedPairs` of packed rows of `sequence_length + 1` tokens."""
    packed_length = sequence_length + 1
    packed, in_row = _pad_rows(rows, packed_length, pad, "right")
    weight = np.zeros((len(rows), packed_length), dtype="float32")
    for b, (row, head_length) in enumerate(zip(rows, head_lengths)):
        # Position j of the packed row is the target of y[j - 1].
        weight[b, head_length : len(row)] = 1.0
    lengths = [min(len(row), sequence_length) for row in rows]
    return TokenizedPairs(
        token_ids=packed[:, :-1],
        padding_mask=in_row[:, :-1],
        y=packed[:, 1:],
        sample_weight=weight[:, 1:],
        lengths=np.asarray(lengths, dtype="int32"),
        indices=np.asarray(kept, dtype="int32"),
        stats=stats,
    )


def _cut_prompt(row, start_length, sequence_length, truncation, stats):
    """`row` cut to `sequence_length` tokens as `truncation` says.

    `"keep_end"` keeps the start token (of `start_length` ids) and the
    prompt's last tokens. A cut is counted in `stats`.
    """
    if len(row) <= sequence_length:
        return row
    stats.num_truncated += 1
    stats.num_tokens_cut += len(row) - sequence_length
    if truncation == "keep_start":
        return row[:sequence_length]
    head = row[: min(start_length, sequence_length - 1)]
    return head + row[len(row) - sequence_length + len(head) :]


def _pad_rows(rows, width, pad, padding_side):
    """int32 ids `[B, width]` and their bool mask, `rows` padded with `pad`.

    Every row must fit in `width`; `padding_side` is `"left"` or `"right"`.
    """
    token_ids = np.full((len(rows), width), pad, dtype="int32")
    mask = np.zeros((len(rows), width), dtype=bool)
    for b, row in enumerate(rows):
        n = len(row)
        if padding_side == "left":
            token_ids[b, width - n :] = row
            mask[b, width - n :] = True
        else:
            token_ids[b, :n] = row
            mask[b, :n] = True
    return token_ids, mask


def _check_padding_side(padding_side):
    if padding_side not in ("left", "right"):
        raise ValueError(
            "`padding_side` must be 'left' or 'right'. "
            f"Received: {padding_side!r}"
        )


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {value!r}"
        )


def _start_ids(tokenizer, add_start_token):
    token = getattr(tokenizer, "start_token_id", None)
    return [int(token)] if add_start_token and token is not None else []


def _end_ids(tokenizer, add_end_token):
    if not add_end_token:
        return []
    token = getattr(tokenizer, "end_token_id", None)
    if token is None:
        raise ValueError(
            "`add_end_token=True` needs a tokenizer with an `end_token_id`. "
            f"Received: {type(tokenizer).__name__} with none"
        )
    return [int(token)]


def _check_sequence_length(sequence_length, minimum=2):
    if (
        not isinstance(sequence_length, (int, np.integer))
        or sequence_length < minimum
    ):
        raise ValueError(
            f"`sequence_length` must be an int >= {minimum}. "
            f"Received: {sequence_length!r}"
        )


def _warn(stats, sequence_length):
    if stats.num_truncated or stats.num_dropped:
        logging.warning(
            "Tokenization to sequence_length=%d: %d of %d examples "
            "truncated (%d tokens cut), %d dropped; longest was %d tokens.",
            sequence_length,
            stats.num_truncated,
            stats.num_examples,
            stats.num_tokens_cut,
            stats.num_dropped,
            stats.longest,
        )
