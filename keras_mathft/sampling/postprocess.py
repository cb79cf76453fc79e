"""Host side of a decoded row: token ids to text, stop handling, `Sample`.

The device stops a row at its first stop token; stop strings are looked
for here, on the host, in the row's text. `PostProcessor.stop_index` tells
a schedule whether a row has ended on a stop string, and
`PostProcessor.to_sample` turns a finished row into its `Sample` (text cut
before the stop, extracted answer, tokens counted).
"""

from keras import ops

from keras_mathft.sampling.sample_record import Sample


def _extract(text):
    try:
        from keras_mathft.grading import extract_answer
    except ImportError:  # pragma: no cover - grading not installed yet
        return None
    return extract_answer(text)


class PostProcessor:
    """Turns the generated token ids of a row into text and a `Sample`.

    Args:
        tokenizer: the keras-hub tokenizer of the causal LM.
        stop_token_ids: tuple of int. Token ids that end a row (the first
            one ends it; it is counted but not part of the text).
        stop_strings: tuple of str. A row also ends once its text contains
            one of them; the text is cut before it.
    """

    def __init__(self, tokenizer, stop_token_ids, stop_strings):
        self.tokenizer = tokenizer
        self.stop_token_ids = stop_token_ids
        self.stop_strings = stop_strings

    def detokenize(self, tokens):
        """The text of `tokens`.

        Args:
            tokens: sequence of int token ids.

        Returns:
            str.
        """
        text = self.tokenizer.detokenize([list(tokens)])[0]
        if not isinstance(text, str):
            text = ops.convert_to_numpy(text).item()
            text = text.decode("utf-8") if isinstance(text, bytes) else text
        return text

    def stop_index(self, tokens):
        """Tokens up to the one that completes a stop string, else None.

        The first stop token ends the text before any stop string is
        looked for, as it does on the device.

        Args:
            tokens: sequence of int, the generated token ids of a row.

        Returns:
            The number of tokens up to and including the one whose text
            completes a stop string, or None when no stop string occurs.
        """
        tokens = [int(t) for t in tokens]
        for j, t in enumerate(tokens):
            if t in self.stop_token_ids:
                tokens = tokens[:j]
                break

        def stopped(n):
            text = self.detokenize(tokens[:n])
            return any(x in text for x in self.stop_strings)

        if not self.stop_strings or not stopped(len(tokens)):
            return None
        # A prefix's text is a prefix of the text, so "contains a stop
        # string" flips once: find the shortest such prefix.
        low, high = 1, len(tokens)
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if stopped(mid) else (mid + 1, high)
        return low

    def to_sample(self, problem_id, sample_index, generated):
        """The `Sample` of one finished row.

        Args:
            problem_id: str, the problem's id.
            sample_index: int, the row's sample index.
            generated: sequence of int, the row's generated token ids.

        Returns:
            A `Sample`: text up to the first stop token or stop string,
            its extracted answer, the tokens counted up to and including
            the stop, and whether the row stopped before its limit.
        """
        generated = [int(t) for t in generated]
        finished = False
        for j, t in enumerate(generated):
            if t in self.stop_token_ids:
                generated, finished = generated[:j], True
                num_tokens = j + 1
                break
        else:
            num_tokens = len(generated)
        text = self.detokenize(generated)
        stop = self.stop_index(generated)
        if stop is not None:
            num_tokens, finished = stop, True
            found = (text.find(x) for x in self.stop_strings)
            text = text[: min(i for i in found if i >= 0)]
        return Sample(
            problem_id=problem_id,
            sample_index=sample_index,
            text=text,
            answer=_extract(text),
            num_tokens=num_tokens,
            finished=finished,
        )
