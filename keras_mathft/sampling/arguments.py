"""Checks of the sampling settings (`SamplingConfig`) and of the model.

Each check raises `ValueError` with the argument's name and the value
received. No keras: `SamplingConfig` runs these checks where keras is
not loaded.
"""

# The two decoding schedules (`continuous.ContinuousSchedule`,
# `static.StaticSchedule`); `schedules` re-exports it.
SCHEDULES = ("continuous", "static")


def check_model(model):
    """The causal LM to sample from, checked.

    Args:
        model: a `MathSolver` (its `causal_lm` is used) or a keras-hub
            `CausalLM`.

    Returns:
        The keras-hub `CausalLM`, which has a preprocessor.

    Raises:
        ValueError: when `model` is neither, or has no preprocessor.
    """
    causal_lm = getattr(model, "causal_lm", model)
    if not hasattr(causal_lm, "call_with_cache"):
        raise ValueError(
            "`model` must be a keras-hub CausalLM (with "
            "`call_with_cache`) or a MathSolver wrapping one. "
            f"Received: {type(model).__name__}"
        )
    if causal_lm.preprocessor is None:
        raise ValueError(
            "The causal LM needs a preprocessor to tokenize prompts. "
            "Received: a model with `preprocessor=None`"
        )
    return causal_lm


def check_sampler_settings(
    schedule, max_rows_per_chunk, block_steps, top_p_prefilter
):
    """Checks the engine's schedule and sizes (`SamplingConfig`).

    Args:
        schedule: str, one of `schedules.SCHEDULES`.
        max_rows_per_chunk: int, at least 1.
        block_steps: int, at least 1.
        top_p_prefilter: int, at least 1.

    Raises:
        ValueError: on an unknown schedule or a size below 1.
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"`schedule` must be one of {SCHEDULES}. "
            f"Received: schedule={schedule!r}"
        )
    for name, value in (
        ("max_rows_per_chunk", max_rows_per_chunk),
        ("block_steps", block_steps),
        ("top_p_prefilter", top_p_prefilter),
    ):
        if value < 1:
            raise ValueError(f"`{name}` must be at least 1. Received: {value}")


def check_stop_strings(stop_strings):
    """The stop strings as a tuple, checked.

    Args:
        stop_strings: sequence of non-empty str (not one str).

    Returns:
        A tuple of str.

    Raises:
        ValueError: on a str or an empty or non-str item.
    """
    if isinstance(stop_strings, str) or not all(
        isinstance(x, str) and x for x in stop_strings
    ):
        raise ValueError(
            "`stop_strings` must be a list of non-empty strings. "
            f"Received: stop_strings={stop_strings!r}"
        )
    return tuple(stop_strings)


def check_sample_args(num_samples, temperature, top_p, top_k, max_new_tokens):
    """Checks the draw settings (`SamplingConfig`).

    Args:
        num_samples: int, at least 1 (exactly 1 when greedy).
        temperature: float, at least 0 (0 is greedy).
        top_p: float in (0, 1].
        top_k: None or int, at least 1.
        max_new_tokens: int, at least 1.

    Raises:
        ValueError: on an out-of-range argument.
    """
    if num_samples < 1:
        raise ValueError(
            f"`num_samples` must be at least 1. Received: {num_samples}"
        )
    if temperature < 0:
        raise ValueError(
            f"`temperature` must be >= 0 (0 is greedy). Received: {temperature}"
        )
    if temperature == 0 and num_samples != 1:
        raise ValueError(
            "Greedy decoding (`temperature=0`) gives one solution per "
            f"problem; set `num_samples=1`. Received: {num_samples}"
        )
    if not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1]. Received: {top_p}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"`top_k` must be None or >= 1. Received: {top_k}")
    if max_new_tokens < 1:
        raise ValueError(
            f"`max_new_tokens` must be at least 1. Received: {max_new_tokens}"
        )
