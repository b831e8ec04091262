"""Students with a backbone of their own: the model each starts from, and where its token ids are.

A student starts from the teacher (`teacher`: cut from it, reading the teacher's token ids) or from a
model of its own, named by a model reference (a hub id, a local save_pretrained folder, `bundled:...`):
`transformer.model.init` (the layers are cut from that model, student and twin alike),
`bilstm.model.embeddings` (the word vectors) and `bag.model.tokenizer` (only the word pieces: the bag
learns its own vectors). Such a student reads texts with that model's tokenizer:
tokenize_student@ARCH writes the ids of every text it reads (train, dev, test, the transfer set, the
pool) row for row as the teacher's tables, so they join the teacher's logits by text id. Turc et al.
(2019): a compact model pre-trained on its own, then distilled, beats one cut from the teacher.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.files import read_json
from distillery.core.params import param

TEACHER = "teacher"
BACKBONE_PARAMS = {
    "transformer": "transformer.model.init",
    "bilstm": "bilstm.model.embeddings",
    "bag": "bag.model.tokenizer",
}
SOURCE_FILE = "source.json"


def backbone(params: dict, arch: str) -> str:
    """`teacher`, or the model reference the architecture's backbone param names."""
    name = BACKBONE_PARAMS[arch]
    value = param(params, name)
    if not isinstance(value, str) or not value.strip():
        raise DistilleryError(
            f"params.yaml: '{name}' must be teacher or a model reference (a hub id, a local save_pretrained "
            f"folder, bundled:all-MiniLM-L6-v2), got {value!r}"
        )
    return value


def check_tokenizer(tokenizer: Any, model: str, param_name: str) -> None:
    """A student pads its batches and, in the transfer set, reads masked words: it needs both tokens."""
    missing = [kind for kind in ("pad", "unk") if getattr(tokenizer, f"{kind}_token_id") is None]
    if missing:
        raise DistilleryError(
            f"{param_name}: the tokenizer of '{model}' has no {' or '.join(missing)} token, which a student "
            "needs to pad its batches and to read words it does not know; name a model whose tokenizer has them"
        )


@dataclass(frozen=True)
class TokenTables:
    """Where one student's token ids are: the teacher's tables, or its own (data/tokens/<arch>)."""

    backbone: str  # `teacher`, or the model reference whose tokenizer wrote them
    folder: Path | None  # None: the teacher's
    max_length: int | None  # where input_ids are cut, when not the teacher's teacher.max_length

    def split(self, name: str) -> Path:
        return paths.tokenized(name) if self.folder is None else self.folder / f"{name}.parquet"

    @property
    def transfer(self) -> Path:
        return paths.TRANSFER if self.folder is None else self.folder / "transfer.parquet"

    @property
    def pool(self) -> Path:
        return paths.POOL if self.folder is None else self.folder / "pool.parquet"

    @property
    def vocab(self) -> Path:
        return paths.VOCAB if self.folder is None else self.folder / "vocab.json"

    @property
    def tokenizer_source(self) -> str:
        """What load_tokenizer takes for these ids: the trained teacher's folder, or the backbone."""
        return str(paths.TEACHER) if self.folder is None else self.backbone


def token_tables(arch: str) -> TokenTables:
    """The tables tokenize_student@ARCH pointed the architecture at."""
    source = read_json(paths.student_tokens(arch) / SOURCE_FILE)
    if source["backbone"] == TEACHER:
        return TokenTables(TEACHER, None, None)
    return TokenTables(source["backbone"], paths.student_tokens(arch), source["max_length"])
