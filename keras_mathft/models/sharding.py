"""Device meshes, and how weights, rows and KV caches shard over them.

A mesh has two axes: `batch` carries rows (training examples, sampled
rows, scored candidates) and `model` splits weights, optimizer state and
the KV cache. JAX's SPMD partitioner does the work: weights are laid out
through `keras.distribution.ModelParallel` and a `LayoutMap`, rows and
caches through `keras.distribution.distribute_tensor`, and XLA inserts
the collectives. Nothing here partitions a computation by hand.

Each family record says how its weights shard (`Family.layout_map`: the
regular expressions of keras-hub's `Backbone.get_layout_map`, keras-hub's
own where it has one). Like keras-hub's, those rules split a weight over
`model` along its heads or feed-forward dimension and over `batch` along
the other one (so with a `batch` axis the weights are also split as in
FSDP, and gathered one layer at a time). A dimension that a mesh axis
does not divide (the single key/value head of a multi-query model, a
vocabulary of 37) is replicated over that axis instead: `fit_layout`.
The KV cache splits its rows over `batch` and its heads over `model`, or,
when `model` does not divide the heads (one KV head), its head dimension
(`cache_layout_axes`).

Without a mesh nothing changes: no distribution, or the `DataParallel`
that `recipes.initialize_distributed` sets, runs exactly as before.
"""

import math

import keras

from keras_mathft.models import families

BATCH = "batch"
MODEL = "model"
MESH_AXES = (BATCH, MODEL)


def parse_mesh(text):
    """Reads a mesh shape such as `"batch:2,model:4"`.

    Args:
        text: str, comma-separated `axis:size` pairs over the axes
            `batch` and `model`, each named at most once; a missing axis
            has size 1.

    Returns:
        dict `{"batch": int, "model": int}`.

    Raises:
        ValueError: for another axis name, a repeated axis, or a size that
            is not a positive integer.

    Example:

    >>> parse_mesh("batch:2,model:4")
    {'batch': 2, 'model': 4}
    >>> parse_mesh("model:8")
    {'batch': 1, 'model': 8}
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            "A mesh is comma-separated `axis:size` pairs, e.g. "
            f"'batch:2,model:4'. Received: {text!r}"
        )
    shape = {}
    for part in text.split(","):
        name, _, size = part.strip().partition(":")
        name = name.strip()
        if name not in MESH_AXES or name in shape:
            raise ValueError(
                f"Mesh axes are {MESH_AXES}, each named at most once, "
                f"e.g. 'batch:2,model:4'. Received: {text!r}"
            )
        size = size.strip()
        if not size.isdigit() or int(size) < 1:
            raise ValueError(
                f"The size of mesh axis {name!r} must be a positive "
                f"integer, e.g. 'batch:2,model:4'. Received: {text!r}"
            )
        shape[name] = int(size)
    return {axis: shape.get(axis, 1) for axis in MESH_AXES}


def check_mesh_backend(mesh, backend=None):
    """Raises where the backend cannot run the mesh.

    Keras 3 lays weights out over a mesh (`ModelParallel`) on JAX only;
    TensorFlow's `keras.distribution` is an unfinished prototype, and the
    recipe's TensorFlow data parallelism goes through `tf.distribute`.

    Args:
        mesh: str or dict (see `parse_mesh`).
        backend: optional str; defaults to `keras.config.backend()`.

    Raises:
        ValueError: on a backend other than JAX, naming the JAX backend.
    """
    shape = _shape(mesh)
    backend = backend or keras.config.backend()
    if backend == "jax":
        return
    if shape[MODEL] > 1:
        raise ValueError(
            f"Keras 3 has no model parallelism on the {backend} backend: "
            "a mesh with a `model` axis runs on JAX only. Set "
            "KERAS_BACKEND=jax, or drop the `model` axis. Received: "
            f"mesh={_text(shape)!r} on {backend}"
        )
    raise ValueError(
        "A `batch`-only mesh is a `keras.distribution.DataParallel`, which "
        f"runs on JAX only; on {backend} the recipe trains as it always "
        "did (one device, or the `tf.distribute` strategy you enter). Set "
        "KERAS_BACKEND=jax, or leave the mesh unset. Received: "
        f"mesh={_text(shape)!r} on {backend}"
    )


def device_mesh(mesh, devices=None):
    """A `keras.distribution.DeviceMesh` with the axes `batch` and `model`.

    Args:
        mesh: str (`"batch:2,model:4"`) or dict (see `parse_mesh`).
        devices: optional list of devices; defaults to every device
            (`keras.distribution.list_devices()`, all hosts' under JAX's
            distributed runtime).

    Returns:
        A `keras.distribution.DeviceMesh` of shape `(batch, model)`.

    Raises:
        ValueError: when the mesh does not cover exactly the devices.

    Example:

    >>> mesh = device_mesh("batch:1,model:1", devices=["cpu:0"])
    >>> mesh.shape, mesh.axis_names
    ((1, 1), ['batch', 'model'])
    """
    shape = _shape(mesh)
    if devices is None:
        devices = keras.distribution.list_devices()
    devices = list(devices)
    if math.prod(shape.values()) != len(devices):
        raise ValueError(
            f"The mesh {_text(shape)!r} needs "
            f"{math.prod(shape.values())} devices; there are "
            f"{len(devices)}. Choose sizes whose product is the number of "
            f"devices. Received: mesh={_text(shape)!r}"
        )
    return keras.distribution.DeviceMesh(
        shape=tuple(shape[a] for a in MESH_AXES),
        axis_names=list(MESH_AXES),
        devices=devices,
    )


def family_layout_map(family, device_mesh):
    """The layout rules of a family's record, unfitted to any model.

    Args:
        family: a `Family`, a family name, or a model of the family.
        device_mesh: a `DeviceMesh` with the axes `batch` and `model`.

    Returns:
        A `keras.distribution.LayoutMap` of regular expressions; variables
        no rule matches are replicated.

    Raises:
        ValueError: when the family has no layout rules, or the mesh lacks
            an axis.
    """
    family = _family(family)
    missing = [a for a in MESH_AXES if a not in device_mesh.axis_names]
    if missing:
        raise ValueError(
            f"The device mesh needs the axes {MESH_AXES}. Received: "
            f"axis_names={list(device_mesh.axis_names)}"
        )
    if family.layout_map is None:
        raise ValueError(
            f"The {family.name!r} family record has no `layout_map`, so "
            "its weights cannot be sharded over a `model` axis. Drop the "
            f"`model` axis. Received: family={family.name!r}"
        )
    return family.layout_map(device_mesh)


def layout_map(model, device_mesh):
    """How each weight of `model` shards over `device_mesh`.

    The family record's rules (`Family.layout_map`) fitted to the model:
    a mesh axis that does not divide a dimension is dropped from it (the
    dimension is replicated over that axis). Keys are the variables' exact
    paths, so the map also builds another model of the same architecture
    under `keras.distribution.ModelParallel`.

    Args:
        model: a keras-hub backbone or `CausalLM`, or a `MathSolver`.
        device_mesh: a `keras.distribution.DeviceMesh` with the axes
            `batch` and `model` (see `device_mesh`).

    Returns:
        A `keras.distribution.LayoutMap` with one entry per weight.

    Example:

    >>> from keras_mathft.data import embedded_tokenizer_proto
    >>> from keras_mathft.models import build_causal_lm
    >>> lm = build_causal_lm("gemma", embedded_tokenizer_proto(),
    ...                      num_layers=1, hidden_dim=16)
    >>> mesh = device_mesh("batch:2,model:4",
    ...                    devices=[f"cpu:{i}" for i in range(8)])
    >>> layouts = layout_map(lm, mesh)
    >>> layouts["decoder_block_0/ffw_gating/kernel"].axes
    ('batch', 'model')
    """
    rules = family_layout_map(model, device_mesh)
    fitted = keras.distribution.LayoutMap(device_mesh)
    for variable in _weights(model):
        axes = rules[variable.path]
        axes = None if axes is None else axes.axes
        fitted[variable.path] = fit_layout(axes, variable.shape, device_mesh)
    return fitted


def fit_layout(axes, shape, device_mesh):
    """Layout axes for `shape`, with the mesh axes that do not divide a
    dimension dropped (that dimension is replicated over them).

    Args:
        axes: tuple of a mesh axis name, a tuple of names or None per
            dimension; None replicates the whole variable.
        shape: the variable's shape.
        device_mesh: the `DeviceMesh`.

    Returns:
        tuple, one entry per dimension.

    Raises:
        ValueError: when `axes` and `shape` differ in rank.
    """
    shape = tuple(shape)
    if axes is None:
        return (None,) * len(shape)
    axes = tuple(axes)
    if len(axes) != len(shape):
        raise ValueError(
            "A layout rule must name one entry per dimension. Received: "
            f"axes={axes} for shape={shape}"
        )
    sizes = dict(zip(device_mesh.axis_names, device_mesh.shape))
    out = []
    for axis, dim in zip(axes, shape):
        names = (
            () if axis is None else (axis,) if isinstance(axis, str) else axis
        )
        size = math.prod(sizes[n] for n in names)
        out.append(axis if size > 1 and dim % size == 0 else None)
    return tuple(out)


class _FittedModelParallel(keras.distribution.ModelParallel):
    """`ModelParallel` whose variable layouts are fitted to their shapes.

    A model built (or loaded) under it gets the layouts `layout_map` gives
    for it, before its variables exist; optimizer variables take their
    weight's layout (Keras passes it on).
    """

    def get_variable_layout(self, variable):
        layout = super().get_variable_layout(variable)
        if not isinstance(layout, keras.distribution.TensorLayout):
            return layout
        axes = fit_layout(layout.axes, variable.shape, self.device_mesh)
        return keras.distribution.TensorLayout(axes, self.device_mesh)


def model_parallel(family, device_mesh, auto_shard_dataset=True):
    """A `keras.distribution.ModelParallel` for models of `family`.

    Build or load the model under it (`with distribution.scope():` or
    `keras.distribution.set_distribution`): each weight, and each
    optimizer variable after it, gets the layout `layout_map` gives for
    it, and rows go over the `batch` axis.

    Args:
        family: a `Family`, a family name, or a model of the family.
        device_mesh: a `DeviceMesh` with the axes `batch` and `model`.
        auto_shard_dataset: bool, passed to `ModelParallel`: shard a
            `tf.data` dataset by process (False where each process feeds
            its own rows).

    Returns:
        A `keras.distribution.ModelParallel`.

    Example:

    >>> mesh = device_mesh("batch:2,model:4")  # doctest: +SKIP
    >>> with model_parallel("gemma3", mesh).scope():  # doctest: +SKIP
    ...     solver = MathSolver.from_preset("gemma3_1b")
    """
    rules = family_layout_map(family, device_mesh)
    return _FittedModelParallel(
        layout_map=rules,
        batch_dim_name=BATCH,
        auto_shard_dataset=auto_shard_dataset,
    )


def mesh_distribution(mesh, family=None, devices=None, **kwargs):
    """The distribution a mesh stands for.

    A mesh without a `model` axis (or with `model:1`) is the
    `DataParallel` over its devices that runs today; otherwise a
    `ModelParallel` with the family's layout (`model_parallel`).

    Args:
        mesh: str or dict (see `parse_mesh`).
        family: a `Family`, a family name or a model; needed with a
            `model` axis.
        devices: optional devices (default: all).
        **kwargs: `auto_shard_dataset`.

    Returns:
        A `keras.distribution.Distribution`.

    Raises:
        ValueError: off JAX (`check_mesh_backend`), or when the mesh does
            not cover the devices.
    """
    shape = _shape(mesh)
    check_mesh_backend(shape)
    if devices is None:
        devices = keras.distribution.list_devices()
    if shape[MODEL] == 1:
        if shape[BATCH] != len(devices):
            device_mesh(shape, devices)  # Raises with the counts.
        return keras.distribution.DataParallel(devices=devices, **kwargs)
    return model_parallel(family, device_mesh(shape, devices), **kwargs)


def family_of_preset(preset):
    """The family of a preset, read from its config before any weight.

    A model must be built under its distribution, so the layout (the
    family's) is needed before it loads.

    Args:
        preset: what `MathSolver.from_preset` takes: a keras-hub preset
            name or handle, a Keras or Hugging Face folder, or a `.gguf`
            file (converted once, see `models.convert_gguf`).

    Returns:
        A `Family`.

    Raises:
        ValueError: for a backbone of no known family.
    """
    from keras_hub.src.utils.preset_utils import get_preset_loader

    from keras_mathft.models import gguf

    if gguf.is_gguf_path(preset):
        preset = gguf.convert_gguf(preset)
    backbone = get_preset_loader(str(preset)).check_backbone_class()
    by_backbone = {f.backbone: f for f in families.FAMILIES.values()}
    for cls in backbone.__mro__:
        if cls.__name__ in by_backbone:
            return by_backbone[cls.__name__]
    raise ValueError(
        "No family record for this preset's backbone. Supported backbones: "
        f"{sorted(by_backbone)}. Received: {backbone.__name__} "
        f"({preset!r})"
    )


def model_axis_size(distribution=None):
    """The size of the active distribution's `model` axis (1 without)."""
    distribution = distribution or keras.distribution.distribution()
    if distribution is None:
        return 1
    mesh = distribution.device_mesh
    names = list(mesh.axis_names)
    return int(mesh.shape[names.index(MODEL)]) if MODEL in names else 1


# === Rows and caches of inference (sampling, scoring) ===


def row_distribution():
    """The distribution inference shards its rows over: this process's.

    Inference is per process: each process samples or scores its own
    problems, so under a distribution whose mesh spans several processes
    (JAX's distributed runtime, one process per host) rows go over this
    process's devices only, and the model's replicated weights are read
    from their local copies (`models.compile_inference_function`).

    Returns:
        A `keras.distribution.Distribution`, or None without one.

    Raises:
        ValueError: when the distribution spans several processes and is
            not a `DataParallel` (weights sharded across hosts).
    """
    dist = keras.distribution.distribution()
    if dist is None or keras.config.backend() != "jax":
        return dist
    import jax

    devices = dist.device_mesh.backend_mesh.devices.flat
    local = [d for d in devices if d.process_index == jax.process_index()]
    if len(local) == dist.device_mesh.backend_mesh.devices.size:
        return dist
    if not isinstance(dist, keras.distribution.DataParallel):
        raise ValueError(
            "Sampling runs per process; across processes it needs weights "
            "replicated on every host: use `keras.distribution.DataParallel`"
            f". Received: {type(dist).__name__}"
        )
    names = tuple(f"{d.platform}:{d.id}" for d in local)
    if names not in _LOCAL_DISTRIBUTIONS:
        _LOCAL_DISTRIBUTIONS[names] = keras.distribution.DataParallel(
            devices=list(names), auto_shard_dataset=False
        )
    return _LOCAL_DISTRIBUTIONS[names]


_LOCAL_DISTRIBUTIONS = {}  # this process's devices -> DataParallel over them


def data_parallel_size():
    """Devices along the `batch` axis that inference shards rows over."""
    dist = row_distribution()
    name = getattr(dist, "batch_dim_name", None)
    if dist is None or name is None:
        return 1
    mesh = dist.device_mesh
    return int(mesh.shape[list(mesh.axis_names).index(name)])


def distribute_rows(array):
    """Shards a row-major input over the `batch` axis of the distribution.

    Whatever a compiled inference function computes from it inherits the
    row sharding, so each device group works on its own rows. Without a
    distribution, or when the rows do not split evenly, the tensor is
    returned as is (replicated).

    Args:
        array: a NumPy array or tensor whose first axis holds rows.

    Returns:
        A tensor.
    """
    tensor = keras.ops.convert_to_tensor(array)
    dist = row_distribution()
    if (
        dist is None
        or not tensor.shape
        or tensor.shape[0] % max(1, data_parallel_size())
    ):
        return tensor
    layout = dist.get_data_layout(tensor.shape)
    return keras.distribution.distribute_tensor(tensor, layout)


def cache_layout_axes(spec, device_mesh, batch_dim_name=BATCH):
    """Layout axes of one KV-cache leaf: rows over `batch`, heads over
    `model`.

    keras-hub caches end in `(..., heads, head_dim)`. When `model` does
    not divide the key/value heads (one KV head: Gemma 3 270M, the
    recipe's from-scratch decoder) the head dimension splits instead, and
    when it divides neither the leaf is replicated over `model`.

    Args:
        spec: `(shape, sequence axis, dtype)` of a leaf with its real row
            count (`CacheLayout.leaves()` gives them for one row).
        device_mesh: the `DeviceMesh`.
        batch_dim_name: the mesh axis that carries rows.

    Returns:
        tuple of axes, one per dimension.
    """
    shape = spec[0]
    axes = [None] * len(shape)
    axes[0] = batch_dim_name
    names = list(device_mesh.axis_names)
    if MODEL in names and len(shape) >= 3:
        size = device_mesh.shape[names.index(MODEL)]
        if shape[-2] % size == 0:
            axes[-2] = MODEL
        elif shape[-1] % size == 0:
            axes[-1] = MODEL
    return fit_layout(tuple(axes), shape, device_mesh)


def distribute_cache(cache_layout, cache):
    """Lays a KV cache out over the distribution's mesh.

    Rows go over the `batch` axis and, with a `model` axis, heads (or the
    head dimension) over it (`cache_layout_axes`). Works on arrays before
    a compiled call and on traced values inside one (there it constrains
    the layout XLA picks, so a cache keeps its layout from call to call).

    Args:
        cache_layout: the model's `CacheLayout`.
        cache: a cache of that layout.

    Returns:
        The cache, laid out (unchanged without a distribution).
    """
    dist = row_distribution()
    if dist is None:
        return cache
    mesh = dist.device_mesh
    batch = getattr(dist, "batch_dim_name", None) or mesh.axis_names[0]

    def place(spec, leaf):
        shape = tuple(leaf.shape)
        axes = cache_layout_axes((shape,) + tuple(spec[1:]), mesh, batch)
        layout = keras.distribution.TensorLayout(axes, mesh)
        return keras.distribution.distribute_tensor(leaf, layout)

    return cache_layout.map(place, cache)


def constrain_cache(cache_layout, cache):
    """`distribute_cache` inside a compiled function, under a `model` axis.

    Without a `model` axis the compiled programs run exactly as they did
    before meshes existed (the row sharding of their inputs propagates).
    """
    if model_axis_size(row_distribution()) == 1:
        return cache
    return distribute_cache(cache_layout, cache)


def constrain_rows(tensor):
    """Inside a compiled function under a `model` axis: `tensor`'s rows
    over `batch`, every other dimension whole on each device.

    The sampler's token choice runs on whole-vocabulary logits: exactly
    the single-device computation, per row (and XLA's CPU compiler fails
    on a top-k over a vocabulary split across devices). No-op without a
    `model` axis.

    Args:
        tensor: a tensor whose first axis holds rows.

    Returns:
        The tensor, constrained.
    """
    dist = row_distribution()
    if model_axis_size(dist) == 1:
        return tensor
    axes = [None] * len(tensor.shape)
    if tensor.shape[0] % data_parallel_size() == 0:
        axes[0] = dist.batch_dim_name
    layout = keras.distribution.TensorLayout(tuple(axes), dist.device_mesh)
    return keras.distribution.distribute_tensor(tensor, layout)


# === Helpers ===


def _shape(mesh):
    return parse_mesh(mesh) if isinstance(mesh, str) else dict(mesh)


def _text(shape):
    return ",".join(f"{a}:{shape[a]}" for a in MESH_AXES)


def _family(family):
    if isinstance(family, families.Family):
        return family
    if isinstance(family, str):
        if family not in families.FAMILIES:
            raise ValueError(
                f"`family` must be one of {sorted(families.FAMILIES)}. "
                f"Received: family={family!r}"
            )
        return families.FAMILIES[family]
    return families.family_of(family)


def _weights(model):
    model = getattr(model, "causal_lm", model)
    model = getattr(model, "backbone", model)
    return model.weights
