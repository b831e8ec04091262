"""The teacher's tokenizer: loading it, its limits, and token ids as Arrow columns for the students too."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from distillery.teacher.files import hub_error, resolve_model

FULL_TEXT_CAP = 16_384  # ids kept of a whole text, for the students that read past the teacher's window
TOKENIZE_BATCH = 10_000


def max_positions(name: str, tokenizer: Any, param_name: str = "teacher.model") -> int:
    """How many tokens a model can read: its position embeddings, or less where its tokenizer says so."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(resolve_model(name, param_name))
    except (OSError, ValueError) as error:
        raise hub_error(name, error, param_name) from None
    limits = [getattr(config, "max_position_embeddings", None), tokenizer.model_max_length]
    return min(int(limit) for limit in limits if limit is not None and limit < 1_000_000)


def load_tokenizer(name: str, param_name: str = "teacher.model") -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_model(name, param_name))
    except (OSError, ValueError) as error:
        raise hub_error(name, error, param_name) from None


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def frame_ids(tokenizer: Any) -> list[int]:
    """Ids of the special tokens a tokenizer puts around every text ([CLS], [SEP], <s>, padding).

    [UNK] and [MASK] stand for words, so they are not among them.
    """
    words = {tokenizer.unk_token_id, tokenizer.mask_token_id}
    return sorted(set(tokenizer.all_special_ids) - words)


def token_columns(
    tokenizer: Any, texts: list[str], max_length: int
) -> tuple[pa.ChunkedArray, pa.ChunkedArray, np.ndarray]:
    """input_ids (cut at max_length) and full_ids as int32 Arrow lists, and each text's full length.

    A batch at a time, so Python's lists of ids (about 30 bytes an id, against Arrow's 4) never
    hold more than one batch.
    """
    input_ids, full_ids, lengths = [], [], []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        batch = texts[start : start + TOKENIZE_BATCH]
        full = tokenize(tokenizer, batch, FULL_TEXT_CAP)
        batch_lengths = [len(ids) for ids in full]
        # Tokenized again rather than cut, so the tokenizer closes each truncated text its own way.
        cut = tokenize(tokenizer, batch, max_length) if max(batch_lengths) > max_length else full
        input_ids.append(pa.array(cut, pa.list_(pa.int32())))
        full_ids.append(pa.array(full, pa.list_(pa.int32())))
        lengths += batch_lengths
    int_lists = pa.list_(pa.int32())
    return pa.chunked_array(input_ids, int_lists), pa.chunked_array(full_ids, int_lists), np.array(lengths)
