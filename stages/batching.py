"""Token id lists into padded batches: the teacher's inference and the students that read word order."""

from __future__ import annotations

import numpy as np
import torch


def length_sorted_batches(token_ids: list[list[int]], batch_size: int) -> list[np.ndarray]:
    """Batches of indices of similar length, so padding (and wasted compute) stays small."""
    order = np.argsort([len(ids) for ids in token_ids], kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def pad_batch(token_ids: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """input_ids padded with pad_id to the longest row, and the attention_mask (1 on real tokens)."""
    width = max(len(ids) for ids in token_ids)
    input_ids = torch.full((len(token_ids), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(token_ids), width), dtype=torch.long)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = torch.as_tensor(ids)
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}
