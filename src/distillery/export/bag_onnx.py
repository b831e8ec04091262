"""The bag student as an ONNX graph: padded ids and a mask in, logits out.

EmbeddingBag's flat ids and offsets are awkward to serve, so the exported graph takes the usual
padded batch instead: the mean of the embeddings where mask is 1 (zeros for an empty bag, as
EmbeddingBag gives), then the linear layer. Same weights, same arithmetic up to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from distillery.students.bag import BagOfEmbeddings


class PaddedBag(nn.Module):
    def __init__(self, bag: BagOfEmbeddings) -> None:
        super().__init__()
        self.embedding = bag.embedding.weight
        self.output = bag.output

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        summed = (nn.functional.embedding(input_ids, self.embedding) * mask.unsqueeze(-1)).sum(dim=1)
        return self.output(summed / mask.sum(dim=1, keepdim=True).clamp(min=1.0))
