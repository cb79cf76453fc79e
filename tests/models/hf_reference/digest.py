"""The digest of an exported checkpoint's tensors (numpy + safetensors)."""

import hashlib
import pathlib

import numpy as np
from safetensors import safe_open


def tensor_digest(folder):
    """sha256 over every tensor's name, dtype, shape and bytes, by name.

    Independent of sharding and of the tensor order inside the files.
    """
    tensors = {}
    for path in sorted(pathlib.Path(folder).glob("*.safetensors")):
        with safe_open(str(path), "np") as f:
            for name in f.keys():
                tensors[name] = f.get_tensor(name)
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{array.dtype}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
