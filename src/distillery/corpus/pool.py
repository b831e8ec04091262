"""The unlabelled pool: texts without labels that the teacher labels and the students learn from.

Its texts come from `data.unlabelled` (a file, or a folder of files in the formats data.source takes)
and from the training rows whose labels data.train_labels dropped. Only the text columns of those files
are kept, never a label. A text is dropped if it is empty, if it repeats an earlier pool text, or if it
is a text of train, dev or test (known, as prepare knows them, by the digest of the cleaned text).
Files are streamed twice, as prepare streams its source: digests first, then only the texts kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from distillery.core.errors import DistilleryError
from distillery.corpus.dataset import FORMATS, clean_texts, read_chunks, text_digest, texts_at
from distillery.corpus.settings import PoolSettings

COLUMN_PARAMS = "data.unlabelled_text_column (null: data.text_column)"


def pool_files(source: str) -> list[Path]:
    """The data files `data.unlabelled` names: the file itself, or a folder's files in a known format, sorted."""
    path = Path(source)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FORMATS))
    raise DistilleryError(
        f"data.unlabelled: '{source}' not found; point it at a file or a folder of {', '.join(FORMATS)} files "
        "(the default, data/unlabelled, is a folder that holds none until you add some)"
    )


@dataclass
class Pool:
    texts: list[str]
    report: dict[str, int | list[str]] = field(default_factory=dict)


def build_pool(settings: PoolSettings, labelled_texts: list[str], moved_texts: list[str]) -> Pool:
    """The pool's texts in order (`moved_texts` first, then each file's in file order), capped at a seeded sample.

    `labelled_texts`: every text of train, dev and test, which the pool must not repeat. `moved_texts`:
    training texts whose labels were dropped (already distinct from the labelled ones, by prepare).
    """
    files = pool_files(settings.source)
    labelled = {text_digest(text) for text in labelled_texts}
    seen: set[bytes] = set()
    kept_rows: list[np.ndarray] = []  # per file, the row numbers kept
    rows_read = empty = repeated = of_labelled = 0
    for file in files:
        rows, start = [], 0
        for chunk in _chunks(file, settings):
            texts = clean_texts(chunk, settings.text_columns)[0]
            for offset, text in enumerate(texts.tolist()):
                if not text:
                    empty += 1
                    continue
                digest = text_digest(text)
                if digest in labelled or digest in seen:
                    of_labelled += digest in labelled
                    repeated += digest not in labelled
                    continue
                seen.add(digest)
                rows.append(start + offset)
            start += len(chunk)
        rows_read += start
        kept_rows.append(np.array(rows, dtype=np.int64))
    from_files = sum(len(rows) for rows in kept_rows)
    if files and from_files == 0:
        why = "has no rows" if rows_read == 0 else f"has {rows_read} rows and none is a new, non-empty text"
        raise DistilleryError(
            f"data.unlabelled: '{settings.source}' {why} ({empty} empty, {of_labelled} texts of train/dev/test, "
            f"{repeated} repeats); point it at in-domain texts the labelled data does not hold, or at an empty folder"
        )
    total = len(moved_texts) + from_files
    chosen = np.arange(total)
    if settings.max_texts is not None and total > settings.max_texts:
        chosen = np.sort(np.random.default_rng(settings.seed).permutation(total)[: settings.max_texts])
    texts = [moved_texts[i] for i in chosen[chosen < len(moved_texts)]]
    position = len(moved_texts)
    for file, rows in zip(files, kept_rows, strict=True):
        here = rows[chosen[(chosen >= position) & (chosen < position + len(rows))] - position]
        if len(here):
            by_row = texts_at(_chunks(file, settings), here, settings.text_columns)
            texts += [by_row[row] for row in here.tolist()]
        position += len(rows)
    report = {
        "files": [str(file) for file in files],
        "rows_read": rows_read,
        "dropped_empty": empty,
        "dropped_repeats": repeated,
        "dropped_texts_of_train_dev_test": of_labelled,
        "from_train_labels": len(moved_texts),
        "capped_to": settings.max_texts if total > len(texts) else None,
        "texts": len(texts),
    }
    return Pool(texts, report)


def _chunks(file: Path, settings: PoolSettings):  # noqa: ANN202 - an iterator of pandas frames
    return read_chunks(str(file), settings.text_columns, settings.encoding, column_params=COLUMN_PARAMS)
