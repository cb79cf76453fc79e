"""Models and problems shared by the sampling and scoring benchmarks.

- `ssft`: the recipe's SSFT model of a run directory, with the run's test
  problems (a trained model: it stops, and its logits are peaked).
- `gemma3_270m`: a Gemma 3 backbone of the 270M shape (18 layers, hidden
  640, 4 query / 1 KV heads, head dim 256, vocabulary 262,144, sliding
  window 512) with random weights and a byte-level tokenizer: the real
  cost per token, but near-uniform logits.
- `gpt2`: a small random GPT-2 with a byte-level tokenizer.
- `preset`: a keras-hub preset directory, or a `.gguf` file.

Random models get word-salad problems; `preset` and `gemma3_270m` can
take real ones instead (`problems="math500"`): the shortest level-1 and
level-2 MATH500 problems of `data_dir`, so a real model meets real text.
"""


def byte_tokenizer_preprocessor(sequence_length=2048):
    """A GPT-2 preprocessor over single bytes (no download)."""
    import keras_hub
    from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

    _, chars = bytes_to_unicode()
    vocab = {"<|endoftext|>": 0}
    for c in chars:
        vocab[c] = len(vocab)
    vocab["Ġt"] = len(vocab)
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocab, merges=["Ġ t"])
    return keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer=tokenizer, sequence_length=sequence_length
    )


def random_problems(num_problems, prompt_words, seed=0):
    """Word salad problems of about `prompt_words` words (half to twice)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = ["two", "plus", "x", "find", "sum", "of", "the", "and", "7"]
    out = []
    for _ in range(num_problems):
        n = int(rng.integers(prompt_words // 2, prompt_words * 2))
        out.append(" ".join(rng.choice(words, size=n)))
    return out


def math500_problems(num_problems, data_dir):
    """The `num_problems` shortest level-1/2 MATH500 problems (texts)."""
    from keras_mathft import data

    _, test = data.load_paper_split(data_dir, check_counts=False)
    easy = [p.problem for p in test if p.level in (1, 2)]
    return sorted(easy, key=len)[:num_problems]


def gemma3_270m_backbone():
    import keras_hub

    return keras_hub.models.Gemma3Backbone(
        vocabulary_size=262144,
        image_size=896,
        num_layers=18,
        num_query_heads=4,
        num_key_value_heads=1,
        hidden_dim=640,
        intermediate_dim=2048,
        head_dim=256,
        query_head_dim_normalize=True,
        use_query_key_norm=True,
        use_post_ffw_norm=True,
        use_post_attention_norm=True,
        use_sliding_window_attention=True,
        sliding_window_size=512,
        vision_encoder=None,
        max_sequence_length=32768,
    )


def load_ssft(run_dir):
    """`(solver, test problems)` of a recipe run's `ssft` stage."""
    from keras_mathft.recipes import StageContext

    context = StageContext.of_run(run_dir)
    return context.solver("ssft"), context.problems[1]


def build(
    name,
    *,
    run_dir=None,
    preset=None,
    num_problems=8,
    prompt_words=60,
    problems="random",
    data_dir=None,
    vocabulary_size=8192,
    num_layers=4,
    hidden_dim=256,
):
    """`(causal_lm, prompt_template, problems)` for model `name`."""
    import keras
    import keras_hub

    from keras_mathft.data import PromptTemplate

    keras.utils.set_random_seed(0)
    if name == "ssft":
        solver, test = load_ssft(run_dir)
        return solver.causal_lm, solver.prompt_template, test[:num_problems]
    if problems == "math500":
        problems = math500_problems(num_problems, data_dir)
    else:
        problems = random_problems(num_problems, prompt_words)
    if name == "preset":
        from keras_mathft.models import MathSolver

        solver = MathSolver.from_preset(preset)
        return solver.causal_lm, solver.prompt_template, problems
    preprocessor = byte_tokenizer_preprocessor()
    if name == "gemma3_270m":
        lm = keras_hub.models.Gemma3CausalLM(
            backbone=gemma3_270m_backbone(), preprocessor=preprocessor
        )
    else:
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=4,
            hidden_dim=hidden_dim,
            intermediate_dim=4 * hidden_dim,
            max_sequence_length=2048,
        )
        lm = keras_hub.models.GPT2CausalLM(
            backbone=backbone, preprocessor=preprocessor
        )
    return lm, PromptTemplate(), problems
