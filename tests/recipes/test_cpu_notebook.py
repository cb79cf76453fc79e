"""The CPU notebook runs headlessly, on a tiny config, and reports."""

import json
import os
import pathlib

import pytest
from pipeline_child import TINY

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
# The resume test's tiny config, shrunk further.
NOTEBOOK_CONFIG = {
    **TINY,
    "run_dir": "runs/notebook_tiny",
    "num_test_problems": 4,
    "num_eval_train_problems": 4,
    "num_train_samples": 2,
    "sft_steps": 2,
    "max_new_tokens": 8,
}


def _parameters_cell(notebook):
    cells = [
        c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])
    ]
    assert len(cells) == 1, "the notebook needs one cell tagged parameters"
    return cells[0]


@pytest.mark.slow
def test_cpu_notebook_executes(tmp_path):
    notebook = nbformat.read(EXAMPLES / "cpu_quick.ipynb", as_version=4)
    cell = _parameters_cell(notebook)
    assert 'size="quick"' in cell.source
    # The same cells, with the config shrunk so the test stays short.
    settings = ", ".join(f"{k}={v!r}" for k, v in NOTEBOOK_CONFIG.items())
    cell.source = f"config = RecipeConfig({settings})\nstage_names(config)"
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        env={**os.environ},
    )
    client.execute()
    report = tmp_path / "runs" / "notebook_tiny" / "report" / "report.json"
    assert json.loads(report.read_text())["num_samples"] == 4
    outputs = "".join(
        o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])
    )
    assert "| Pass@1 (greedy) |" in outputs
    assert "evaluator AUC" in outputs


def test_kaggle_notebook_is_valid():
    notebook = nbformat.read(EXAMPLES / "kaggle_colab.ipynb", as_version=4)
    nbformat.validate(notebook)
    source = _parameters_cell(notebook).source
    for setting in (
        "PRESET = ",
        "DATA_DIR = ",
        "MESH = None",
        "lora_rank=",
        "num_samples=64",
    ):
        assert setting in source
    # The mesh reaches the recipe, and replaces the data parallelism.
    code = "".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "mesh=MESH" in code
    assert "if MESH is None and len(jax.devices()) > 1:" in code
    # Outputs are kept out of the repository.
    assert all(not c.get("outputs") for c in notebook.cells)


# The Kaggle notebook's parameters at the smallest size that runs every
# stage of both of its runs on the real model.
KAGGLE_TINY = dict(
    max_level=1,
    lora_rank=2,
    num_train_problems=4,
    num_test_problems=2,
    num_eval_train_problems=2,
    num_samples=2,
    num_train_samples=2,
    top_k_clusters=2,
    max_new_tokens=8,
    sequence_length=128,
    batch_size=2,
    evaluator_batch_size=2,
    sft_steps=1,
    evaluator_steps=1,
    checkpoint_every=1,
    learning_rate=2e-4,
)


@pytest.mark.real_data
@pytest.mark.slow
def test_kaggle_notebook_executes_on_the_real_model(tmp_path, shared_data):
    import keras
    from real_model import gemma3_gguf_path

    if keras.config.backend() != "jax":
        pytest.skip("the Kaggle notebook runs JAX (it sets KERAS_BACKEND)")
    notebook = nbformat.read(EXAMPLES / "kaggle_colab.ipynb", as_version=4)
    cell = _parameters_cell(notebook)
    # The notebook's multitask cell asks for more final steps; keep it to 1.
    for c in notebook.cells:
        c.source = c.source.replace("final_sft_steps=200", "final_sft_steps=1")
    cell.source = (
        f"PRESET = {gemma3_gguf_path()!r}\n"
        f"DATA_DIR = {str(shared_data)!r}\n"
        f"RUN_DIR = {str(tmp_path / 'runs' / 'kaggle')!r}\n"
        "INSTALL = False\n"
        "MESH = None\n"
        f"SETTINGS = {KAGGLE_TINY!r}"
    )
    client = nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        env={**os.environ},
    )
    client.execute()
    for run in ("kaggle", "kaggle_multitask"):
        report = tmp_path / "runs" / run / "report" / "report.json"
        result = json.loads(report.read_text())
        assert result["num_samples"] == 2 and result["num_problems"] == 2
