"""Digests of the files a run reads, kept with its settings.

A run directory stores the digest of its data files and of a local model
(a `.gguf` file or a preset folder) among its settings, so resuming on
other files is refused like a changed flag (see `check_run_directory`).

Data files are small (MATH is 54 MB in 12,500 files): each is hashed
whole with SHA-256. A model can be tens of GB, too much to read at every
start, and caching a full hash by modification time would read it all
again in every new notebook session that downloads it anew. So a model
file up to `WHOLE_FILE_LIMIT` is hashed whole and a larger one (the
weights) by its size and `SAMPLE_WINDOWS` windows of `WINDOW_BYTES`
spread evenly over it, first and last bytes included: at most 4 MiB read
per file, and no modification times, so a copy or a fresh download of the
same model keeps its digest. A replaced, retrained, merged,
re-quantized or truncated model changes bytes throughout and is caught;
an edit confined to the bytes between the windows of a file whose size
stays the same is not. Remote presets (a keras-hub name, `hf://`,
`kaggle://`) have no local files and no digest.
"""

import hashlib
import os
import pathlib

# Model files up to this size are hashed whole (configs, tokenizers).
WHOLE_FILE_LIMIT = 64 * 2**20
SAMPLE_WINDOWS = 64
WINDOW_BYTES = 64 * 2**10
_CHUNK = 2**20


def input_digests(config):
    """The digests of what a run of `config` reads besides its flags.

    Args:
        config: a `RecipeConfig`.

    Returns:
        A dict: `data_digest`, the digest of the data files (`None` for the
        embedded task, which has none), and `preset_digest`, the digest of
        a local `preset` file or folder (`None` otherwise).

    Example:

    >>> from keras_mathft.recipes import RecipeConfig
    >>> input_digests(RecipeConfig())
    {'data_digest': None, 'preset_digest': None}
    """
    files = data_files(config)
    preset = config.model.preset
    local = preset is not None and os.path.exists(preset)
    return {
        "data_digest": _digest(files, whole=True) if files else None,
        "preset_digest": _digest(_model_files(preset)) if local else None,
    }


def data_files(config):
    """The data files `load_problems(config)` reads, in a fixed order.

    Returns:
        A list of `(name, path)`: the name is the path relative to
        `data_dir` (the PRM800K label file is named by its role, since it
        may lie elsewhere); empty for the embedded task.
    """
    if config.data.data == "embedded":
        return []
    root = pathlib.Path(config.data.data_dir)
    if (root / "MATH").is_dir():
        # What `data.load_paper_split` reads: <split>/<subject>/*.json.
        paths = [
            file
            for split in ("train", "test")
            for subject in _sorted_dirs(root / "MATH" / split)
            for file in sorted(subject.glob("*.json"))
        ]
        paths.append(root / "prm800k" / "math_splits" / "test.jsonl")
    else:
        paths = [root / "train.jsonl", root / "test.jsonl"]
    files = [(path.relative_to(root).as_posix(), path) for path in paths]
    if config.data.solutions != "math":
        files.append(("PRM800K labels", pathlib.Path(config.prm800k_file())))
    return files


def _sorted_dirs(folder):
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _model_files(preset):
    """`(name, path)` of a model file, or of every file of a folder.

    Hidden files and folders (`.cache/` of a Hugging Face download, with
    its lock and metadata files) are not the model's.
    """
    path = pathlib.Path(preset)
    if path.is_file():
        return [(path.name, path)]
    files = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                file = pathlib.Path(folder, name)
                files.append((file.relative_to(path).as_posix(), file))
    return files


def _digest(files, whole=False):
    """One SHA-256 over each file's name, size and content digest."""
    listing = hashlib.sha256()
    for name, path in files:
        try:
            size = path.stat().st_size
            if whole or size <= WHOLE_FILE_LIMIT:
                content = _whole_file_digest(path)
            else:
                content = _sampled_digest(path, size)
        except OSError as e:
            raise ValueError(
                f"Cannot read {path} ({e.strerror or e}), a file the run "
                "reads. Restore it, or point `data_dir`, `prm800k_path` or "
                f"`preset` elsewhere. Received: {str(path)!r}"
            ) from None
        listing.update(f"{name}\0{size}\0{content}\n".encode())
    return "sha256:" + listing.hexdigest()


def _whole_file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sampled_digest(path, size):
    """SHA-256 of `SAMPLE_WINDOWS` evenly spaced windows of the file."""
    digest = hashlib.sha256(b"sampled")
    last = size - WINDOW_BYTES
    with open(path, "rb") as f:
        for i in range(SAMPLE_WINDOWS):
            f.seek(last * i // (SAMPLE_WINDOWS - 1))
            digest.update(f.read(WINDOW_BYTES))
    return digest.hexdigest()
