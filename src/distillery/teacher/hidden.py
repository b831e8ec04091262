"""The teacher's sentence vectors: its last hidden layer pooled over each text's real tokens, as the
transformer student pools its own, so a cosine loss can pull the two together."""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from distillery.training.batching import length_sorted_batches, masked_mean, pad_batch


@torch.inference_mode()
def mean_hidden_states(model: torch.nn.Module, token_ids: list[list[int]], pad_id: int, batch_size: int) -> np.ndarray:
    """The last hidden layer pooled as the student pools its own (batching.masked_mean): float32 [N, H],
    in input order, at fp32 on the CPU (a few seconds a thousand texts)."""
    model.float().eval()
    result = np.zeros((len(token_ids), model.config.hidden_size), dtype=np.float32)
    for rows in tqdm(length_sorted_batches(token_ids, batch_size), desc="teacher_hidden"):
        batch = pad_batch([token_ids[i] for i in rows], pad_id)
        output = model(**batch, output_hidden_states=True)
        result[rows] = masked_mean(output.hidden_states[-1], batch["attention_mask"]).numpy()
    return result
