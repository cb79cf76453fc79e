"""Progress off a terminal: plain, flushed lines.

The module under test is keras_mathft/runtime/progress.py.
"""

import io

import keras
import numpy as np
import pytest

from keras_mathft.runtime.progress import LineProgress
from keras_mathft.runtime.progress import ProgbarLogger
from keras_mathft.runtime.progress import progress_bar


class _Stream(io.StringIO):
    """A text stream that counts flushes and says whether it is a tty."""

    def __init__(self, tty=False):
        super().__init__()
        self.tty, self.flushes = tty, 0

    def isatty(self):
        return self.tty

    def flush(self):
        self.flushes += 1


def _assert_plain_lines(text):
    assert text.endswith("\n")
    assert "\r" not in text and "\b" not in text and "\x1b" not in text


@pytest.mark.backend_independent
def test_not_a_tty_gives_lines_and_a_tty_keras_bar():
    assert isinstance(progress_bar(3, stream=_Stream()), LineProgress)
    bar = progress_bar(3, stream=_Stream(tty=True))
    assert isinstance(bar, keras.utils.Progbar)


@pytest.mark.backend_independent
def test_lines_are_flushed_and_throttled():
    out = _Stream()
    bar = LineProgress(5, unit_name="problem", stream=out, interval=3600)
    for done in range(1, 6):
        bar.update(done, [("tokens/s", 12.5)])
    text = out.getvalue()
    _assert_plain_lines(text)
    lines = text.splitlines()
    # The first update and the last, nothing between within the interval.
    assert [line.split(" (")[0] for line in lines] == [
        "1/5 problems",
        "5/5 problems",
    ]
    assert lines[-1].endswith("tokens/s: 12.5000") and "ETA" in lines[0]
    assert out.flushes == 2
    # Every update once the interval has passed; nothing after the end.
    out = _Stream()
    bar = LineProgress(3, stream=out, interval=0)
    for done in (1, 2, 3, 3):
        bar.update(done)
    assert len(out.getvalue().splitlines()) == 3


@pytest.mark.backend_independent
def test_unknown_target_counts_up():
    out = _Stream()
    bar = LineProgress(None, stream=out, interval=0)
    bar.update(7, [("loss", 0.5)])
    assert out.getvalue().startswith("7 steps ")


def test_fit_progress_is_lines_when_stdout_is_not_a_tty(capsys):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", loss="mse")
    x, y = np.ones((8, 2)), np.ones((8, 1))
    model.fit(
        x, y, batch_size=2, epochs=2, verbose=1, callbacks=[ProgbarLogger()]
    )
    text = capsys.readouterr().out
    _assert_plain_lines(text)
    lines = text.splitlines()
    assert "Epoch 1/2" in lines and "Epoch 2/2" in lines
    finals = [line for line in lines if line.startswith("4/4 steps (100%)")]
    assert len(finals) == 2 and all(" - loss: " in f for f in finals)


@pytest.mark.backend_independent
def test_sampling_progress_is_lines_when_stdout_is_not_a_tty(capsys):
    from keras_mathft.sampling.progress import SamplingProgress

    progress = SamplingProgress(2, verbose=True)
    progress.update(1, tokens=10, slot_steps=20)
    progress.update(1, tokens=30, slot_steps=40)
    text = capsys.readouterr().out
    _assert_plain_lines(text)
    assert text.splitlines()[-1].startswith("2/2 problems (100%)")
    assert "slot use: 0.7500" in text
