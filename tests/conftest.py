"""Fixtures: a tiny labelled CSV, a tiny randomly initialised BERT, and throwaway DVC projects."""

from __future__ import annotations

import functools
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from distillery.core.params import TRACE_ENV
from distillery.project import PROJECT_FILES, ROOT

POSITIVE = ["good", "great", "excellent", "fun", "love", "superb", "moving", "brilliant"]
NEGATIVE = ["bad", "awful", "boring", "hate", "poor", "dull", "weak", "terrible"]
NEUTRAL = ["the", "movie", "was", "plot", "actors", "and", "film", "story", "a", "it", "with", "scenes"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_reviews(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Short synthetic reviews whose label is carried by a few sentiment words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.choices(NEUTRAL, k=rng.randint(4, 9))
        cue = POSITIVE if label == "pos" else NEGATIVE
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
        rows.append({"review": " ".join(words) + f" {i}", "sentiment": label})
    return pd.DataFrame(rows)


def build_tiny_teacher(directory: Path, width: int = 32, layers: int = 2, reverse_vocabulary: bool = False) -> Path:
    """A 2-layer, 32-wide BERT encoder with random weights and a WordPiece tokenizer, saved like a hub model.
    Another width, depth or word order (`reverse_vocabulary`: other ids) makes a model unlike the teacher."""
    from transformers import BertConfig, BertModel, BertTokenizer

    digits = [str(d) for d in range(10)] + [f"##{d}" for d in range(10)]
    # As in BERT's vocabulary, tokens that no text has: a trimmed export drops them.
    unused = [f"[unused{i}]" for i in range(4)]
    words = SPECIAL + sorted(set(POSITIVE + NEGATIVE + NEUTRAL), reverse=reverse_vocabulary) + digits + unused
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(words)})
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * width,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.manual_seed(0)
    return build_tiny_teacher(tmp_path_factory.mktemp("tiny-teacher"))


TINY_PARAMS = {
    "lr": 0.8,  # neither the default nor a sweep value, so that `-S lr=0.5` is a change
    "seed": 7,
    "data": {
        "source": "data/raw/reviews.csv",
        "text_column": "review",
        "label_column": "sentiment",
        "max_examples": None,
        "balance": True,
        "test_fraction": 0.2,
        "train_labels": None,  # every label: the few-label tests set it
    },
    "teacher": {
        "model": "./models/tiny-bert",
        "fine_tune": True,
        "method": "finetune",  # the probe has tests of its own
        "infer_precision": "auto",  # int8 on the CPU: the labelling's fast path is under test too
        "max_length": 32,
        "epochs": 4,
        "min_steps": None,  # 4 epochs of 11 steps, as they are: the few-label test sets it
        "batch_size": 16,
        "lr": 3.0e-3,
        "warmup_ratio": 0.1,
        "infer_batch_size": 32,
        "checkpoint_steps": 3,  # several checkpoints per epoch, for the resume test
    },
    "augment": {"n_iter": 2},
    "bag": {"model": {"tokenizer": "teacher", "vectors": "random"}, "dim": 16, "epochs": 3, "n_seeds": 2},
    # min_steps null: the epochs as given (150 steps would be 14 epochs of these 172 rows)
    "transformer": {"model": {"init": "teacher", "layers": [1]}, "n_seeds": 2, "epochs": 2, "batch_size": 16}
    | {"lr": 3.0e-3, "beta": 0.5}
    | {"min_steps": None},
    "bilstm": {"model": {"embeddings": "teacher", "width": 8, "hidden": 8, "mlp": 8}, "n_seeds": 2, "epochs": 2}
    | {"batch_size": 16}
    | {"min_steps": None},
    "baselines": {
        "fasttext_grid": {"lr": [0.5, 1.0], "epochs": [5], "word_ngrams": [1, 2], "dim": [16]},
        "sklearn_grid": {"features": ["tfidf", "nb"], "ngrams": [2], "C": [1.0]},
        # SetFit stays off here (it runs in tests/test_setfit.py): two checkpoints of one tiny run
        "setfit_grid": {"max_steps": [2, 4], "body_learning_rate": [1.0e-3], "batch_size": [8]},
        "setfit_max_labels": None,
        "setfit_body": "./models/tiny-bert",
    },
    "compare": {"speed_examples": 16, "speed_seconds": 0.05},
}


def update_params(project: Path, changes: dict) -> None:
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, value in changes.items():
        if isinstance(value, dict):
            params[section].update(value)
        else:
            params[section] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def project_env(project: Path, **extra: str) -> dict[str, str]:
    """What every command of a test project runs with: the test interpreter's venv first on PATH, and the
    package imported from the project's own copy of src/ (so a test may edit it there). One thread: the
    suite runs a worker per core (make test), tiny models gain nothing from threads, and a float sum
    taken on another number of threads may differ in its last bit."""
    return (
        dict(
            os.environ,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            PYTHONPATH=str(Path(project) / "src"),
            PYTHONUNBUFFERED="1",
            DVC_NO_ANALYTICS="1",
            HF_HUB_OFFLINE="1",
            TOKENIZERS_PARALLELISM="false",
            OMP_NUM_THREADS="1",
        )
        | extra
    )


def run(cmd: list[str], cwd: Path, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
    """Run a command (dvc, git, a stage) in a test project's environment (project_env)."""
    result = subprocess.run(cmd, cwd=cwd, env=project_env(cwd, **extra_env), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def fails_cleanly(project: Path, script: str, *expected: str) -> str:
    """Run a stage; it must exit 2 with one `error:` line holding `expected` and add nothing to data/."""
    before = sorted(p.name for p in (project / "data").iterdir())
    result = run(["python", *f"stages/{script}".split()], project, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: "), result.stderr
    for fragment in expected:
        assert fragment in message, message
    after = sorted(p.name for p in (project / "data").iterdir())
    assert after == before, f"partial output left behind: {sorted(set(after) - set(before))}"
    return message


KERNEL_CACHE = "src/distillery/students/__pycache__"


@functools.cache
def compiled_bag_kernel() -> Path:
    """Compile the bag's numba kernel once, here, as the bag stages call it; returns numba's cache folder.

    numba keys its on-disk cache by the source file's modification time and size, which copytree
    keeps, so every test project gets the compiled kernel with its copy of src/ instead of
    compiling it again (about 8 s in each bag stage of each new project). The suite's workers share
    that folder, so one compiles while the others wait for it.
    """
    import numpy as np
    import pyarrow as pa
    from filelock import FileLock

    from distillery.students.bag import RECIPES, BagOfEmbeddings, Packed, Settings, Split, train
    from distillery.training.losses import TWIN_LOSS

    data = Packed(pa.chunked_array([pa.array([[1, 2], [3]], pa.list_(pa.int32()))]))
    labels = np.array([0, 1])
    settings = Settings(lr=0.1, seed=0, n_seeds=1, dim=2, epochs=1, batch_size=1, recipe=RECIPES["fasttext"])
    split = Split(data, labels)
    (ROOT / KERNEL_CACHE).mkdir(exist_ok=True)
    with FileLock(ROOT / KERNEL_CACHE / ".compiling.lock"):
        train(BagOfEmbeddings(4, 2, 2), data, np.zeros((2, 2)), labels, split, split, TWIN_LOSS, settings, 0, "warm")
    return ROOT / KERNEL_CACHE


def make_project(directory: Path, teacher: Path, data: pd.DataFrame | None = None) -> Path:
    """A git + DVC repo holding this project's pipeline, pointed at tiny data and the tiny teacher."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source, target = ROOT / name, directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, target)
    numba_cache = directory / KERNEL_CACHE
    numba_cache.mkdir(exist_ok=True)
    for cached in compiled_bag_kernel().glob("bag_kernel.*.nb[ic]"):
        shutil.copy2(cached, numba_cache)
    shutil.copytree(teacher, directory / "models" / "tiny-bert")
    (data if data is not None else tiny_reviews()).to_csv(directory / "data/raw/reviews.csv", index=False)
    update_params(directory, TINY_PARAMS)
    run(["git", "init", "-q", "-b", "main"], directory)
    run(["git", "config", "user.email", "test@example.com"], directory)
    run(["git", "config", "user.name", "test"], directory)
    run(["dvc", "init", "-q"], directory)
    run(["dvc", "config", "core.analytics", "false"], directory)
    run(["git", "add", "-A"], directory)
    run(["git", "commit", "-q", "-m", "project"], directory)
    return directory


@pytest.fixture
def project(tmp_path: Path, tiny_teacher: Path) -> Path:
    return make_project(tmp_path / "project", tiny_teacher)


@pytest.fixture
def prepared(project: Path) -> Path:
    """The tiny project with its data prepared and tokenized: ready for train_teacher."""
    run(["python", "stages/teacher_source.py"], project)
    run(["python", "stages/prepare.py"], project)
    run(["python", "stages/tokenize_texts.py"], project)
    return project


TEACHER_SIDE = ["example_data", "prepare", "tokenize_texts", "train_teacher", "teacher_logits", "teacher_hidden"]
TEACHER_SIDE += ["augment", "transfer_logits", "pool", "pool_logits"]
STUDENT_SIDE = ["distil_bag", "twin_bag", "train_fasttext", "compare", "export@bag"]
TUNED_BASELINES = ["tune_fasttext", "tune_sklearn", "tune_setfit"]
DISTILLED_ENCODERS = ["distil@transformer", "distil@bilstm"]
ENCODER_TWINS = ["twin@transformer", "twin@bilstm"]
ENCODER_EXPORTS = ["export@bilstm", "export@transformer"]
# what the students read and start from (their token ids, the bag's vectors): none reads lr
STUDENT_INPUTS = ["tokenize_student@bag", "tokenize_student@transformer", "tokenize_student@bilstm", "bag_vectors"]
STAGES = TEACHER_SIDE + STUDENT_INPUTS + STUDENT_SIDE + TUNED_BASELINES + DISTILLED_ENCODERS + ENCODER_TWINS
STAGES += ENCODER_EXPORTS


# teacher_source runs on every `dvc repro` by design (always_changed: it fingerprints teacher.model's
# files); what the tests below count is the work that re-runs, so they leave it out.
ALWAYS_RUNS = {"teacher_source"}


def ran_stages(output: str) -> list[str]:
    return [stage for stage in re.findall(r"Running stage '([\w@.-]+)'", output) if stage not in ALWAYS_RUNS]


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory, tiny_teacher: Path) -> tuple[Path, str]:
    """One tiny project after a full `dvc repro` (and its output), committed. Read it; copy it to change it."""
    project = make_project(tmp_path_factory.mktemp("reproduced") / "project", tiny_teacher)
    trace = project.parent / "params-read.jsonl"  # each stage's params reads, for test_dvc_yaml.py
    output = run(["dvc", "repro"], project, **{TRACE_ENV: str(trace)}).stdout
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "reproduced"], project)
    return project, output


@pytest.fixture
def reproduced_copy(reproduced: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the reproduced project: git history, DVC cache and outputs included."""
    return Path(shutil.copytree(reproduced[0], tmp_path / "copy", symlinks=True))


# Tests that build a DVC project or train the tiny teacher: the slow lane. `pytest -m "not pipeline"`
# runs the rest, the fast lane, in about a minute.
SLOW_FIXTURES = {"tiny_teacher", "project", "reproduced", "reproduced_copy"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pipeline)
