"""Where the pipeline keeps each output, relative to the project root: the one home of these paths.

dvc.yaml names the same paths (it cannot import them); tests/test_dvc_yaml.py checks the two agree.
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "dev", "test")
ROLES = ("student", "twin")  # a student learns from the teacher; its twin, the control, from the labels only
ARCHITECTURES = ("bag", "bilstm", "transformer")

DATA = Path("data")
EXAMPLE = DATA / "example"
TEACHER_SOURCE = DATA / "teacher_source"
PREPARED = DATA / "prepared"
LABELS = PREPARED / "labels.json"
PREPARED_STATS = PREPARED / "stats.json"
TOKENIZED = DATA / "tokenized"
VOCAB = TOKENIZED / "vocab.json"
TOKENIZED_STATS = TOKENIZED / "stats.json"
TEACHER = DATA / "teacher"
LOGITS = DATA / "logits"
HIDDEN = DATA / "hidden"  # the teacher's sentence vectors: train.parquet and pool.parquet
AUGMENTED = DATA / "augmented"
TRANSFER = AUGMENTED / "transfer.parquet"
TRANSFER_LOGITS = LOGITS / "transfer.parquet"
UNLABELLED = PREPARED / "unlabelled.parquet"  # training rows whose labels data.train_labels dropped
POOL_DIR = DATA / "pool"
POOL = POOL_DIR / "pool.parquet"
POOL_STATS = POOL_DIR / "stats.json"
POOL_LOGITS = LOGITS / "pool.parquet"
FASTTEXT = DATA / "fasttext"
FASTTEXT_TUNED = DATA / "fasttext_tuned"
SKLEARN = DATA / "sklearn"
SETFIT = DATA / "setfit"
STUDENT_TOKENS = DATA / "tokens"  # per architecture: the ids of a student with a tokenizer of its own
COMPARE = DATA / "compare"
EXPORT = DATA / "export"


def prepared(split: str) -> Path:
    return PREPARED / f"{split}.parquet"


def tokenized(split: str) -> Path:
    return TOKENIZED / f"{split}.parquet"


def logits(split: str) -> Path:
    return LOGITS / f"{split}.parquet"


def hidden(texts: str) -> Path:
    return HIDDEN / f"{texts}.parquet"


def trained(arch: str, role: str) -> Path:
    """data/<arch>/<role>: a student's or its twin's models (one per seed), metrics.json and history.csv."""
    return DATA / arch / role


def student_tokens(arch: str) -> Path:
    """data/tokens/<arch>: source.json (which backbone's tokenizer), and unless it is the teacher's, the token
    ids of every text the student reads, row for row as the teacher's tables: train, dev, test, transfer, pool."""
    return STUDENT_TOKENS / arch
