"""Token id lists into padded batches, and pooling over them: the teacher's inference and the students
that read word order."""

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


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, T, H] hidden states to [B, H]: the mean over each row's real tokens (the mask's 1s)."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
