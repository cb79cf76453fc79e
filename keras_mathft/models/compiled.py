"""Compiles inference functions of a model, once per input shape.

The one backend branch for compiled inference (sampling and scoring), in
the style of keras-hub's `CausalLM.make_generate_function`: `jax.jit` over
the variables' values on JAX, `tf.function` on TensorFlow, eager elsewhere;
and the per-row map that lets every row of a batch sit at its own position.
"""

import keras


def compile_inference_function(model, fn, jit_compile=None, donate=()):
    """Returns `fn` compiled against `model`'s current variables.

    Args:
        model: a `keras.Model`; its variables are read on every call, so
            training between calls is seen.
        fn: a Python function of tensors that calls `model`'s layers.
        jit_compile: bool or `None`. XLA on TensorFlow; `None` follows
            `model.jit_compile`. JAX always compiles with XLA.
        donate: positions of arguments whose buffers the call may reuse for
            its outputs (JAX only; e.g. a KV cache updated in place). The
            caller must not read a donated argument after the call.

    Returns:
        A function with `fn`'s signature. It retraces only for new input
        shapes. Use `CompiledFunctions` to hold it, so that it is dropped
        when the model's variables change.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.layers.Dense(2)])
    >>> model.build((None, 3))
    >>> f = compile_inference_function(model, lambda x: model(x))
    >>> tuple(f(keras.ops.ones((4, 3))).shape)
    (4, 2)
    """
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        compiled = jax.jit(
            _stateless(model, fn),
            donate_argnums=tuple(i + 1 for i in donate),
        )

        def function(*args):
            state = (
                [_local(v.value) for v in model.trainable_variables],
                [_local(v.value) for v in model.non_trainable_variables],
            )
            return compiled(state, *args)

        return function
    if backend == "tensorflow":
        import tensorflow as tf

        if jit_compile is None:
            jit_compile = getattr(model, "jit_compile", False) is True
        return tf.function(fn, jit_compile=jit_compile)
    if backend == "torch":
        import torch

        def no_grad_function(*args):
            with torch.no_grad():
                return fn(*args)

        return no_grad_function
    return fn


def _local(value):
    """This process's copy of a weight replicated over several processes.

    Inference functions run per process (each samples or scores its own
    problems): under a `DataParallel` spanning several JAX processes a
    weight is replicated on every device, so its shards on this process's
    devices already form a whole local array; no data moves.

    Raises:
        ValueError: when the weight is sharded across processes.
    """
    if getattr(value, "is_fully_addressable", True):
        return value
    import jax

    if not value.is_fully_replicated:
        raise ValueError(
            "Inference runs per process and needs every weight whole on "
            "each host; train with `keras.distribution.DataParallel` across "
            f"hosts. Received: a weight sharded as {value.sharding}"
        )
    shards = value.addressable_shards
    mesh = jax.sharding.Mesh([s.device for s in shards], ("local",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    return jax.make_array_from_single_device_arrays(
        value.shape, sharding, [s.data for s in shards]
    )


def _stateless(model, fn):
    def run(state, *args):
        trainable, non_trainable = state
        mapping = list(zip(model.trainable_variables, trainable))
        mapping += list(zip(model.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping):
            return fn(*args)

    return run


def per_row_map(fn, elements):
    """Maps `fn` over the leading axis of `elements`, vectorized.

    Lets each row of a batch run a keras-hub `call_with_cache` at its own
    `cache_update_index` (continuous batching): `jax.vmap` on JAX,
    `tf.vectorized_map` on TensorFlow (which loops over rows for the cache
    update, an op it cannot vectorize). On TensorFlow the enclosing
    function must be XLA-compiled (`jit_compile=True`): that row loop
    crashes the TensorFlow runtime outside XLA.

    Args:
        fn: function of one row's structure of tensors.
        elements: structure of tensors with a shared leading axis.

    Returns:
        `fn`'s outputs stacked along a new leading axis.
    """
    return keras.ops.vectorized_map(fn, elements)


def materialize(values):
    """Returns `values` unchanged, as a barrier XLA does not fuse across.

    XLA's CPU compiler may copy an op with several consumers into each of
    their fusions. For a top-k (a sort) that repeats the sort per consumer:
    a 20x slowdown measured on `jax` 0.10. JAX only; other backends return
    `values` as they are. Each tensor gets its own barrier: one barrier
    over a top-k's `(values, indices)` pair crashes XLA's CPU compiler
    (its top-k decomposition) once the top-k is replicated over several
    devices, as under a `batch:1,model:8` mesh.

    Args:
        values: a tensor or structure of tensors.

    Returns:
        The same values.
    """
    if keras.config.backend() == "jax":
        import jax

        return keras.tree.map_structure(jax.lax.optimization_barrier, values)
    return values


def variables_signature(model):
    """Which variables a traced function of `model` captured, and how.

    Changes when variables are added or replaced (`enable_lora`,
    `quantize`) or change trainability (freezing), the events after which a
    function traced before may run a stale graph.
    """
    return (
        tuple(id(v) for v in model.trainable_variables),
        tuple(id(v) for v in model.non_trainable_variables),
    )


class CompiledFunctions:
    """The compiled functions of one user (a sampler, a scorer) of a model.

    A dict from a key (shapes and settings) to a compiled function that
    empties itself when `variables_signature(model)` changes, so a function
    traced before `enable_lora` (whose TensorFlow graph would keep the
    pre-LoRA computation) can never run after it. (`MathSolver.compile()`
    and `enable_lora()` drop their samplers and scorer whole.)

    Args:
        model: the `keras.Model` whose variables the functions read.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.layers.Dense(2)])
    >>> model.build((None, 3))
    >>> functions = CompiledFunctions(model)
    >>> f = functions.get("dense", lambda: compile_inference_function(
    ...     model, lambda x: model(x)))
    >>> f is functions.get("dense", None)
    True
    """

    def __init__(self, model):
        self.model = model
        self._functions = {}
        self._signature = variables_signature(model)

    def get(self, key, build):
        """The function for `key`, built by `build()` when missing."""
        signature = variables_signature(self.model)
        if signature != self._signature:
            self._functions.clear()
            self._signature = signature
        if key not in self._functions:
            self._functions[key] = build()
        return self._functions[key]

    def __len__(self):
        return len(self._functions)
