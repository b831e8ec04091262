"""The teacher as a linear probe (`teacher.method: probe`): a frozen encoder's sentence embedding under a
linear head whose outputs are the teacher's logits (probe_fit.py fits it).

The sentence embedding is the model's own: the pooling (mean, [CLS] or max) and the normalisation its
sentence-transformers files name, or the mean over real tokens for a folder without them. Saved as a
folder that needs no code of its own to read: the encoder (save_pretrained, its config carrying the
labels) and the head in `probe_head.safetensors`, the pooling in its metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distillery.training.batching import masked_mean

HEAD_FILE = "probe_head.safetensors"


@dataclass(frozen=True)
class Pooling:
    mode: str  # mean, cls or max: how a text's token vectors become one
    normalize: bool  # to unit length, as sentence-transformers' Normalize module does

    @classmethod
    def of(cls, folder: str | Path) -> Pooling:
        """The pooling a sentence-transformers folder names (modules.json, 1_Pooling); the mean otherwise."""
        modules_file = Path(folder) / "modules.json"
        if not modules_file.is_file():
            return cls("mean", normalize=False)
        modules = json.loads(modules_file.read_text())
        types = [module.get("type", "") for module in modules]
        pooling = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
        config_file = Path(folder) / pooling["path"] / "config.json" if pooling else None
        config = json.loads(config_file.read_text()) if config_file and config_file.is_file() else {}
        modes = [mode for mode in ("cls", "max") if config.get(f"pooling_mode_{mode}_token{'s' * (mode == 'max')}")]
        return cls(modes[0] if modes else "mean", normalize=any(t.endswith("Normalize") for t in types))

    def __call__(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.mode == "cls":
            pooled = hidden[:, 0]
        elif self.mode == "max":
            pooled = hidden.masked_fill(attention_mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values
        else:
            pooled = masked_mean(hidden, attention_mask)
        return nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled


class ProbeClassifier(nn.Module):
    """Encoder, pooling, linear head; called as a Hugging Face classifier is (`.logits`, `.config`)."""

    def __init__(self, encoder: nn.Module, head: nn.Linear, pooling: Pooling) -> None:
        super().__init__()
        self.encoder, self.head, self.pooling = encoder, head, pooling
        self.config = encoder.config

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> Any:
        from transformers.modeling_outputs import SequenceClassifierOutput

        # Asked for only when wanted: under the ONNX tracer a False passed down reaches transformers as a tensor.
        wanted = {"output_hidden_states": True} if output_hidden_states else {}
        if token_type_ids is not None:  # what a BERT tokenizer hands over beside the ids
            wanted["token_type_ids"] = token_type_ids
        output = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **wanted)
        logits = self.head(self.pooling(output.last_hidden_state, attention_mask))
        return SequenceClassifierOutput(logits=logits, hidden_states=output.hidden_states)

    def save_pretrained(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        self.encoder.save_pretrained(directory)
        head = {"weight": self.head.weight.detach().contiguous(), "bias": self.head.bias.detach().contiguous()}
        save_file(head, Path(directory) / HEAD_FILE, metadata={"pooling": json.dumps(asdict(self.pooling))})


def is_probe(directory: str | Path) -> bool:
    return (Path(directory) / HEAD_FILE).is_file()


def load_probe(directory: str | Path) -> ProbeClassifier:
    from safetensors import safe_open
    from transformers import AutoModel

    with safe_open(str(Path(directory) / HEAD_FILE), framework="pt") as file:
        pooling = Pooling(**json.loads(file.metadata()["pooling"]))
        weight, bias = file.get_tensor("weight"), file.get_tensor("bias")
    head = nn.Linear(weight.shape[1], weight.shape[0])
    head.load_state_dict({"weight": weight, "bias": bias})
    return ProbeClassifier(AutoModel.from_pretrained(str(directory)), head, pooling).eval()
