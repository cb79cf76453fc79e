"""The sampler's progress bar: problems/s, tokens/s and slot utilization."""

import time


class SamplingProgress:
    """Times a sampling run and, when `verbose`, shows its progress bar.

    The bar counts finished problems and shows problems/s, tokens/s and
    slot use (generated tokens over rows times decode steps). When stdout
    is not a terminal (logs, nohup) it prints plain lines.

    Args:
        num_problems: int. Problems in the run (the bar's total).
        verbose: bool. Show the bar; when False, only time the run.

    Example:

    >>> progress = SamplingProgress(2, verbose=False)
    >>> progress.update(1, tokens=10, slot_steps=20)
    >>> progress.problems
    1
    """

    def __init__(self, num_problems, verbose):
        self.start = time.perf_counter()
        self.problems = 0
        self.bar = None
        if verbose:
            # Line progress when stdout is not a terminal (logs, nohup).
            from keras_mathft.runtime.progress import progress_bar

            self.bar = progress_bar(
                num_problems,
                unit_name="problem",
                stateful_metrics=["problems/s", "tokens/s", "slot use"],
            )

    def elapsed(self):
        """Seconds since the run started.

        Returns:
            float.
        """
        return time.perf_counter() - self.start

    def update(self, problem_done, tokens, slot_steps):
        """Counts a finished problem (if any) and redraws the bar.

        Args:
            problem_done: bool or int. Problems finished since the last
                update.
            tokens: int. Tokens generated so far in the run.
            slot_steps: int. Rows times decode steps run so far.
        """
        self.problems += problem_done
        if self.bar is None or not problem_done:
            return
        elapsed = max(self.elapsed(), 1e-9)
        self.bar.update(
            self.problems,
            [
                ("problems/s", self.problems / elapsed),
                ("tokens/s", tokens / elapsed),
                ("slot use", tokens / max(slot_steps, 1)),
            ],
        )
