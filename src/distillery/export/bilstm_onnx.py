"""The BiLSTM student as a graph ONNX can run: padded ids and an attention mask in, logits out.

The student packs its padded batch so that padding never enters the backward direction's states.
ONNX has no packed sequences (torch's exporter turns them into an LSTM that reads the padding, and
padded rows come out wrong), so this graph does the same arithmetic another way: the forward
direction runs over the padded batch as it is (padding comes after every real token, so it never
reaches a real token's state), and the backward direction runs forwards over each row's real tokens
reversed in place, its states then put back in the original order. Same weights; the logits match
the student's to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from distillery.students.bilstm import BiLSTMClassifier


def one_direction(lstm: nn.LSTM, suffix: str) -> nn.LSTM:
    """A one-way LSTM with the weights of one direction of a bidirectional one ('' or '_reverse')."""
    single = nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(single, name).copy_(getattr(lstm, name + suffix))
    return single


class UnpackedBiLSTM(nn.Module):
    def __init__(self, model: BiLSTMClassifier) -> None:
        super().__init__()
        self.embedding, self.projection, self.mlp = model.embedding, model.projection, model.mlp
        self.forward_lstm = one_direction(model.lstm, "")
        self.backward_lstm = one_direction(model.lstm, "_reverse")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        words = self.projection(self.embedding(input_ids))
        lengths = attention_mask.sum(dim=1, keepdim=True).clamp(min=1)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        # Position t of a row reads position length-1-t: the real tokens reversed, the padding left in place.
        mirrored = torch.where(positions < lengths, lengths - 1 - positions, positions)
        gather = mirrored.unsqueeze(-1).expand(-1, -1, words.shape[-1])
        forward_states, _ = self.forward_lstm(words)
        backward_states, _ = self.backward_lstm(words.gather(1, gather))
        gather = mirrored.unsqueeze(-1).expand(-1, -1, backward_states.shape[-1])
        states = torch.cat([forward_states, backward_states.gather(1, gather)], dim=-1)
        real = (positions < lengths).unsqueeze(-1)
        return self.mlp(states.masked_fill(~real, float("-inf")).max(dim=1).values)
