"""Every bad setting stops before any work, saying what to change."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import keras
import pytest
from absl import flags

from keras_mathft.data import PromptTemplate
from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import check_files_and_packages
from keras_mathft.recipes import check_run_directory
from keras_mathft.recipes import config_from_flags
from keras_mathft.recipes import define_flags
from keras_mathft.recipes import run_pipeline

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"num_samples": 0}, "`num_samples` must be at least 1"),
        ({"num_samples": 4, "top_k_clusters": 8}, "cannot exceed"),
        ({"top_k_clusters": 0}, "`top_k_clusters` must be at least 1"),
        ({"temperature": 0.0}, "`temperature` must be positive"),
        ({"top_p": 1.5}, "`top_p` must be in (0, 1]"),
        ({"size": "huge"}, "`size` must be one of"),
        ({"data": "gsm8k"}, "`data` must be one of"),
        ({"evaluator_loss": "hinge"}, "`evaluator_loss` must be one of"),
        ({"style": "chatty"}, "`style` must be one of"),
        ({"sft_steps": 0}, "`sft_steps` must be at least 1"),
        ({"batch_size": 2.5}, "`batch_size` must be an int"),
        ({"learning_rate": -1.0}, "`learning_rate` must be positive"),
        ({"margin": -1.0}, "`margin` must be a finite number >= 0"),
        ({"max_pairs_per_problem": 0}, "`max_pairs_per_problem`"),
        ({"max_level": 6}, "`max_level` must be at most 5"),
        ({"hidden_dim": 30}, "`hidden_dim` must be a multiple of 4"),
        ({"lora_rank": 4}, "`lora_rank` needs a pretrained `preset`"),
        (
            {"num_train_problems": 10, "num_eval_train_problems": 20},
            "cannot exceed `num_train_problems`",
        ),
        (
            {"max_new_tokens": 200, "sequence_length": 128},
            "`max_new_tokens` must be below `sequence_length`",
        ),
        ({"data": "math"}, "needs `data_dir`"),
        ({"data_dir": "/tmp"}, "applies to `data='math'` only"),
        ({"solutions": "prm800k"}, "applies to `data='math'` only"),
        (
            {"allow_contamination": True},
            "`allow_contamination` applies to `data='math'` only",
        ),
        ({"preset": "ftp://model"}, "`preset` must be a keras-hub preset"),
        ({"evaluator": "pairwise"}, "`evaluator` must be one of"),
    ],
)
def test_bad_settings_raise(changes, message):
    with pytest.raises(ValueError, match="Received") as info:
        RecipeConfig(**changes)
    assert message in str(info.value)


# What needs the disk or an installed package is checked by the preflight
# (`run_pipeline` calls it before anything runs), not on construction.
@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"data": "math", "data_dir": "/no/such/folder"},
            "needs `data_dir`",
        ),
        ({"preset": "no_such_preset_xyz"}, "Unknown keras-hub preset"),
        ({"preset": "./missing_dir"}, "must be a folder with a `config"),
    ],
)
def test_missing_files_raise_at_preflight(changes, message, tmp_path):
    config = RecipeConfig(run_dir=str(tmp_path / "run"), **changes)
    with pytest.raises(ValueError, match="Received") as info:
        check_files_and_packages(config)
    assert message in str(info.value)
    with pytest.raises(ValueError, match="Received") as info:
        run_pipeline(config, verbose=0)
    assert message in str(info.value)
    assert not (tmp_path / "run").exists()


def test_unknown_settings_name_the_closest():
    with pytest.raises(TypeError, match="Did you mean `num_samples`"):
        RecipeConfig(num_sample=8)
    with pytest.raises(TypeError, match="no setting `model`"):
        RecipeConfig(model="gemma")


def test_settings_are_resolved_once_and_given_back_flat():
    config = RecipeConfig(size="quick", num_samples=16)
    assert config.sampling.num_samples == 16
    assert config.model.hidden_dim == 96
    assert config.evaluator.evaluator == "outcome"
    flat = config.flat()
    assert set(flat) == set(RecipeConfig.field_names())
    assert flat["hidden_dim"] == 96 and flat["num_samples"] == 16
    given = config.get_config()
    assert given["hidden_dim"] is None and given["num_samples"] == 16
    assert RecipeConfig(**given) == config
    # Unset fields stay unset, so another size still applies.
    assert config.replace(size="default").model.hidden_dim == 128
    assert config != RecipeConfig(size="quick", num_samples=16, num_layers=2)


def test_math_data_checks(tmp_path):
    with pytest.raises(ValueError, match="neither"):
        check_files_and_packages(
            RecipeConfig(data="math", data_dir=str(tmp_path))
        )
    (tmp_path / "train.jsonl").write_text("")
    (tmp_path / "test.jsonl").write_text("")
    config = RecipeConfig(data="math", data_dir=str(tmp_path))
    check_files_and_packages(config)
    # Unset problem counts mean every problem with real data.
    assert config.data.num_train_problems is None
    with pytest.raises(ValueError, match="PRM800K label file"):
        check_files_and_packages(config.replace(solutions="both"))
    with pytest.raises(ValueError, match="`style` applies"):
        RecipeConfig(data="math", data_dir=str(tmp_path), style="terse")


@pytest.mark.real_data
def test_math_levels_filter_both_splits(shared_data):
    from keras_mathft.recipes import load_problems

    config = RecipeConfig(data="math", data_dir=str(shared_data))
    assert config.data.max_level is None
    train, test = load_problems(config.replace(max_level=2))
    # MATH500 holds 43 level-1 and 90 level-2 problems.
    assert len(test) == 43 + 90
    assert {p.level for p in train} == {p.level for p in test} == {1, 2}
    small = config.replace(max_level=1, num_test_problems=7)
    _, few = load_problems(small)
    assert len(few) == 7 and {p.level for p in few} == {1}
    # A training subset is a seeded draw across subjects, not the first
    # (algebra) files.
    draw = load_problems(small.replace(num_train_problems=50))[0]
    assert len(draw) == 50 and len({p.subject for p in draw}) >= 5
    again = load_problems(small.replace(num_train_problems=50))[0]
    other = load_problems(small.replace(num_train_problems=50, seed=1))[0]
    assert [p.unique_id for p in draw] == [p.unique_id for p in again]
    assert [p.unique_id for p in draw] != [p.unique_id for p in other]


def _math_row(problem, uid=None):
    row = {
        "problem": problem,
        "solution": f"$\\boxed{{{len(problem)}}}$",
        "subject": "Algebra",
        "level": 1,
    }
    return row if uid is None else row | {"unique_id": uid}


def _write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


# Issue 28 item 6: copies of training problems in the test set.
TRAIN_TEXTS = [f"What is ${k} + {k}$?" for k in range(8)]
COPIES = ["What is $3 + 3$?", "what is $5+5$?", "What is\n$7 + 7$?"]


def _contaminated_jsonl(folder):
    train = [_math_row(t, f"train/{k}") for k, t in enumerate(TRAIN_TEXTS)]
    test = ["What is $9 + 9$?"] + COPIES + ["What is $1 + 2$?"]
    _write_rows(folder / "train.jsonl", train)
    _write_rows(
        folder / "test.jsonl",
        [_math_row(t, f"test/{k}") for k, t in enumerate(test)],
    )
    return folder


def _contaminated_tree(folder):
    # The paper's layout: MATH500 holds test/algebra/2.json, whose text
    # is a MATH train problem's with other spacing.
    for k, text in enumerate(TRAIN_TEXTS):
        _write_rows(folder / f"MATH/train/algebra/{k}.json", [_math_row(text)])
    tests = {1: "What is $9 + 9$?", 2: "What  is $2+2$?"}
    for k, text in tests.items():
        _write_rows(folder / f"MATH/test/algebra/{k}.json", [_math_row(text)])
    _write_rows(
        folder / "prm800k/math_splits/test.jsonl",
        [_math_row(tests[2], "test/algebra/2.json")],
    )
    return folder


def test_contaminated_jsonl_data_is_refused_before_anything_runs(tmp_path):
    from keras_mathft.recipes import load_problems
    from keras_mathft.recipes import run_pipeline

    data_dir = _contaminated_jsonl(tmp_path / "data")
    run_dir = tmp_path / "run"
    config = RecipeConfig(
        data="math", data_dir=str(data_dir), run_dir=str(run_dir)
    )
    with pytest.raises(ValueError, match="Received") as info:
        run_pipeline(config, verbose=0)
    message = str(info.value)
    assert message.startswith("3 of the 5 test problems")
    assert "--allow_contamination" in message
    assert message.endswith(
        "test ids test/1 (= train/3), test/2 (= train/5), test/3 (= train/7)"
    )
    assert not run_dir.exists()
    # Only the problems a run uses count: without the copies' training
    # problems, or without the copies, the data is held out.
    train, test = load_problems(config.replace(num_test_problems=1))
    assert (len(train), len(test)) == (8, 1)
    allowed = config.replace(allow_contamination=True)
    assert [len(split) for split in load_problems(allowed)] == [8, 5]


def test_contamination_names_the_first_ids_and_the_count(tmp_path):
    from keras_mathft.recipes import load_problems

    data_dir = tmp_path / "data"
    rows = [_math_row(t, f"id{k}") for k, t in enumerate(TRAIN_TEXTS)]
    _write_rows(data_dir / "train.jsonl", rows)
    _write_rows(data_dir / "test.jsonl", rows)
    config = RecipeConfig(data="math", data_dir=str(data_dir))
    with pytest.raises(ValueError, match="8 of the 8 test problems") as info:
        load_problems(config)
    assert str(info.value).endswith("id4 (= id4) and 3 more")


def test_contaminated_paper_layout_is_refused(tmp_path):
    from keras_mathft.recipes import load_problems

    config = RecipeConfig(
        data="math", data_dir=str(_contaminated_tree(tmp_path / "data"))
    )
    with pytest.raises(ValueError) as info:
        load_problems(config)
    assert str(info.value).startswith("1 of the 1 test problems")
    assert str(info.value).endswith(
        "Received: test ids test/algebra/2.json (= train/algebra/2.json)"
    )
    train, test = load_problems(config.replace(allow_contamination=True))
    assert (len(train), len(test)) == (9, 1)


def test_allow_contamination_flag(tmp_path):
    data = ["--data=math", f"--data_dir={_contaminated_jsonl(tmp_path)}"]
    assert _parse(data).data.allow_contamination is False
    assert _parse(data + ["--allow_contamination"]).data.allow_contamination
    with pytest.raises(ValueError, match="applies to `data='math'` only"):
        _parse(["--allow_contamination"])


@pytest.mark.real_data
def test_the_paper_split_runs_without_allow_contamination(shared_data):
    from keras_mathft.recipes import load_problems

    config = RecipeConfig(data="math", data_dir=str(shared_data))
    train, test = load_problems(config)
    assert (len(train), len(test)) == (12000, 500)


def test_embedded_styles_share_problems_and_both_trains_on_two():
    from keras_mathft.recipes import load_problems

    config = RecipeConfig(
        size="quick",
        num_train_problems=40,
        num_test_problems=5,
        num_eval_train_problems=10,
    )
    detailed = load_problems(config)
    coarse = load_problems(config.replace(style="coarse"))
    both = load_problems(config.replace(style="both"))
    texts = [p.problem for p in detailed[0]]
    assert [p.problem for p in coarse[0]] == texts
    assert [p.problem for p in both[0]] == texts + texts
    assert both[0][:40] == detailed[0] and both[0][40:] == coarse[0]
    assert detailed[1] == both[1]
    assert [p.problem for p in coarse[1]] == [p.problem for p in both[1]]


def test_sizes_resolve_and_overrides_win():
    config = RecipeConfig(size="quick", num_samples=4, top_k_clusters=4)
    assert config.sampling.num_samples == 4
    assert config.training.sft_steps == 800
    assert config.training.learning_rate == 2e-3
    assert config.evaluator.evaluator_learning_rate == 1e-3
    assert RecipeConfig().sampling.num_samples == 64


def _parse(argv):
    values = flags.FlagValues()
    define_flags(values)
    values(["train.py"] + argv)
    return config_from_flags(values)


def test_flags_map_onto_config():
    config = _parse(
        [
            "--quick",
            "--num_samples=16",
            "--temperature=0.7",
            "--multitask",
            "--evaluator_loss=xent",
            "--style=terse",
        ]
    )
    assert config.run.size == "quick"
    assert config.run.run_dir == "runs/quick"
    assert config.sampling.num_samples == 16
    assert config.sampling.temperature == 0.7
    assert config.training.multitask is True
    assert config.evaluator.evaluator_loss == "xent"
    assert config.data.style == "terse"


def test_flag_errors():
    with pytest.raises(ValueError, match="--quick is --size=quick"):
        _parse(["--quick", "--size=default"])
    with pytest.raises(ValueError, match="cannot exceed"):
        _parse(["--num_samples=2"])
    with pytest.raises(flags.IllegalFlagValueError):
        _parse(["--evaluator_loss=hinge"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--temperature=nan"], "`temperature` must be a finite number"),
        (["--temperature=inf"], "`temperature` must be a finite number"),
        (["--learning_rate=inf"], "`learning_rate` must be a finite"),
        (["--margin=inf"], "`margin` must be a finite number >= 0"),
        (["--top_p=nan"], "`top_p` must be a finite number"),
        (["--dtype=notadtype"], "`dtype` must be a Keras dtype policy"),
        (["--num_train_problems=1000000000000"], "at most 1000000"),
        (["--num_layers=1000000"], "`num_layers` must be at most"),
        (
            ["--max_new_tokens=1", "--sequence_length=2"],
            "leave at least 16 tokens",
        ),
        (["--seed=-1"], "`seed` must be at least 0"),
        ([f"--seed={2**70}"], "`seed` must be at most 2147483647"),
        (["--run_dir="], "`run_dir` must name a folder"),
        (["--preset="], "`preset` must be a keras-hub preset"),
        (
            [
                "--batch_size=64",
                "--num_train_problems=32",
                "--num_eval_train_problems=8",
            ],
            "`batch_size` cannot exceed",
        ),
    ],
)
def test_bad_flags_raise_before_anything_runs(argv, message):
    with pytest.raises(ValueError, match="Received") as info:
        _parse(argv)
    assert message in str(info.value)


FEW_SHOT = (
    "Problem:\n1+1?\n\nSolution:\n$\\boxed{2}$\n\n"
    "Problem:\n{problem}\n\nSolution:\n"
)


def test_prompt_templates_come_from_flags_and_reach_the_solver(tmp_path):
    config = _parse(
        [
            f"--generation_template={FEW_SHOT}",
            "--evaluation_template=Q: {problem} A: {solution} Verdict:",
            "--correct_label= yes",
            "--incorrect_label= no",
            f"--run_dir={tmp_path}",
        ]
    )
    template = config.prompt_template()
    assert template.generation_prompt("2+2?").endswith(
        "Problem:\n2+2?\n\nSolution:\n"
    )
    assert template.correct_label == " yes"
    from keras_mathft.recipes import StageContext

    solver = StageContext(config, [], verbose=0).new_solver()
    assert solver.prompt_template == template
    # The defaults are the library's template.
    assert RecipeConfig().prompt_template() == PromptTemplate()


@pytest.mark.parametrize(
    "changes",
    [
        {"generation_template": "no problem field"},
        {"evaluation_template": "{problem} only"},
        {"correct_label": " same", "incorrect_label": " same"},
        {"correct_label": None},
    ],
)
def test_bad_prompt_fields_raise(changes):
    with pytest.raises(ValueError, match="Received"):
        RecipeConfig(**changes)


def test_run_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        check_files_and_packages(RecipeConfig(run_dir=str(tmp_path / "file")))


@pytest.mark.parametrize(
    "changes",
    [
        {"seed": 1.5},
        {"multitask": 1},
        {"allow_contamination": "yes"},
        {"top_k_clusters": True},
        {"temperature": "0.9"},
        {"style": None},
    ],
)
def test_wrong_types_raise(changes):
    with pytest.raises(ValueError, match="Received"):
        RecipeConfig(**changes)


def test_run_directory_refuses_other_settings(tmp_path):
    config = RecipeConfig(size="quick", run_dir=str(tmp_path))
    check_run_directory(config)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["size"] == "quick" and "run_dir" not in stored
    # The same settings resume, wherever the folder is named from.
    check_run_directory(config)
    with pytest.raises(ValueError, match="num_samples: None -> 16"):
        check_run_directory(config.replace(num_samples=16))


@pytest.mark.parametrize(
    "flag, message",
    [("--num_samples=4", "Lower K or raise N"), ("--seed=-1", "at least 0")],
)
def test_train_script_stops_on_a_bad_flag(tmp_path, flag, message):
    script = pathlib.Path(__file__).resolve().parents[2] / "examples/train.py"
    result = subprocess.run(
        [sys.executable, str(script), flag, f"--run_dir={tmp_path / 'run'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert message in result.stderr
    # Nothing was started.
    assert not (tmp_path / "run").exists()


# The flags before issue 25 item 5 (the keys of flags.py's HELP, and
# `--quick`): their names are a public interface.
FLAGS_BEFORE_SECTIONS = (
    "run_dir tensorboard mesh size seed preset dtype lora_rank data "
    "data_dir solutions prm800k_path allow_contamination style max_level "
    "num_train_problems num_test_problems num_eval_train_problems "
    "num_samples num_train_samples temperature top_p max_new_tokens "
    "top_k_clusters evaluator_loss margin max_pairs_per_problem multitask "
    "batch_size evaluator_batch_size learning_rate evaluator_learning_rate "
    "sft_steps evaluator_steps final_sft_steps checkpoint_every hidden_dim "
    "num_layers sequence_length generation_template evaluation_template "
    "correct_label incorrect_label quick"
).split()


def test_the_flags_keep_their_names_and_come_from_the_fields():
    values = flags.FlagValues()
    define_flags(values)
    assert set(values) == {*FLAGS_BEFORE_SECTIONS, "evaluator"}
    assert set(values) == {*RecipeConfig.field_names(), "quick"}
    assert values["num_samples"].help == (
        "N, samples per test problem. Default: from --size."
    )
    assert values["evaluator"].parser.enum_values == ["outcome", "process"]
    assert values["seed"].default == 0 and values["preset"].default is None
    config = _parse(["--evaluator=process"])
    assert config.evaluator.evaluator == "process"


def test_a_run_directory_of_flat_settings_resumes(tmp_path):
    # `config.json` as the code before issue 25 item 5 wrote it: flat
    # names, `None` where the size decides, the resolved values apart.
    stored = json.loads(
        (pathlib.Path(__file__).parent / "flat_run_config.json").read_text()
    )
    stored["backend"] = keras.config.backend()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(stored))
    config = RecipeConfig(
        size="quick",
        seed=3,
        num_samples=16,
        style="terse",
        run_dir=str(run_dir),
    )
    check_run_directory(config).close()
    assert json.loads((run_dir / "config.json").read_text()) == stored
    from keras_mathft.recipes import StageContext

    assert StageContext.of_run(str(run_dir)).config == config
    # `evaluator`, added since, is stored only when set otherwise.
    with pytest.raises(ValueError, match="evaluator"):
        check_run_directory(config.replace(evaluator="process"))


def test_flat_settings_keep_their_order():
    # Run directories and reports write the flat settings in this order.
    from keras_mathft.recipes import settings

    names = [
        field.name
        for cls in settings.SECTIONS.values()
        for field in dataclasses.fields(cls)
    ]
    assert sorted(settings.FLAT_ORDER) == sorted(names)
    assert list(RecipeConfig().get_config()) == list(settings.FLAT_ORDER)
    assert RecipeConfig.field_names()[:5] == (
        *("run_dir", "tensorboard", "mesh", "size", "seed"),
    )
