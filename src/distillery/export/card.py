"""The model card of an export folder (README.md), in the Hugging Face format: YAML metadata (the
pipeline tag, the data set, the test metrics), then what the model is, how it was checked, how to use it."""

from __future__ import annotations

import yaml

TITLES = {
    "bag": "a bag of embeddings (the mean of word-piece embeddings, then one linear layer; fastText-style)",
    "bilstm": "a BiLSTM over the teacher's word embeddings (Tang et al. 2019)",
    "transformer": "a transformer cut from the teacher's own layers (DistilBERT-style)",
}


def metadata(info: dict) -> str:
    metric = "macro_f1" if info["multi_label"] else "accuracy"
    value = info["test_macro_f1"] if info["multi_label"] else info["test_accuracy"]
    fields = {
        "library_name": "transformers" if info["arch"] == "transformer" else "onnx",
        "pipeline_tag": "text-classification",
        "tags": ["distillery", "knowledge-distillation", "onnx", info["arch"]],
        "datasets": [str(info["source"])],
        "metrics": [metric],
        "model-index": [
            {
                "name": f"distillery-{info['arch']}-student",
                "results": [
                    {
                        "task": {"type": "text-classification", "name": "Text Classification"},
                        "dataset": {"name": str(info["source"]), "type": str(info["source"]), "split": "test"},
                        "metrics": [{"type": metric, "value": round(float(value), 4), "name": f"test {metric}"}],
                    }
                ],
            }
        ],
    }
    return "---\n" + yaml.safe_dump(fields, sort_keys=False) + "---\n"


def compression_line(info: dict) -> str:
    """Which file ships and why, and what was tried before it (the smaller copies the gate refused)."""
    compression = info["compression"]
    shipped = "int8 (ONNX Runtime dynamic quantization) ships" if compression["compressed_ships"] else "float32 ships"
    refused = [verdict["reason"] for verdict in info.get("compression_tried", []) if verdict != compression]
    return (
        f"{shipped}: {compression['reason']} (dev {compression['metric']}: fp32 {compression['fp32_dev']:.4f}, "
        f"compressed {compression['compressed_dev']:.4f})."
        + "".join(f" Refused first: {reason}." for reason in refused)
        + " A compressed copy ships only if, on dev, it is within half a point of fp32 and McNemar's test "
        "against fp32 does not reject (p >= 0.05); the smallest that passes ships."
    )


def pipeline_line(info: dict, folder: str) -> str:
    """What `transformers.pipeline` runs, and how far it agrees with the file predict.py serves."""
    line = (
        "The folder is also a `save_pretrained` model: "
        f'`transformers.pipeline("text-classification", model="{folder}")` loads it as it is and runs its '
        "float32 weights"
    )
    compression = info["compression"]
    if not compression["compressed_ships"]:
        return line + ", as `predict.py` does (the parity check above)."
    return line + (
        f"; they give the same prediction as the int8 file `predict.py` serves on {compression['agreement']:.1%} "
        "of dev texts (int8 moves a few texts that lie near the decision boundary)."
    )


def model_card(info: dict) -> str:
    arch, reads = info["arch"], info["reads"]
    folder = f"data/export/{arch}"
    score = (
        f"test macro-F1 {info['test_macro_f1']:.4f} (exact match {info['test_accuracy']:.4f})"
        if info["multi_label"]
        else f"test accuracy {info['test_accuracy']:.4f}"
    )
    reading = f"{info['tokenizer']} tokenizer"
    if reads["skip_ids"]:
        reading += ", its frame tokens ([CLS], [SEP]) dropped"
    reading += f", at most {reads['truncate_at']:,} tokens" + (
        f" ({reads['max_length']} ids kept)" if reads["max_length"] else ""
    )
    kind = "labels" if info["multi_label"] else "classes"
    latency = f"median {info['latency']['median']} ms, p95 {info['latency']['p95']} ms"
    pipeline = f"\n{pipeline_line(info, folder)}\n" if arch == "transformer" else ""
    return f"""{metadata(info)}
# distillery {arch} student: `{info["teacher"]}` distilled into {TITLES[arch]}

Trained by distillery on the soft labels of a fine-tuned `{info["teacher"]}` teacher; the seed with
the best dev score of those trained ({info["seed"]}, dev accuracy {info["dev_accuracy"]:.4f}). How it
compares with its hard-label twin, the teacher and the baselines: the project's `data/compare/report.md`.

| | |
|---|---|
| data | `{info["source"]}`, {info["test"]} test texts, {kind} {info["labels"]} |
| this model | {score}, from raw texts through `predict.py` |
| parameters / file | {info["parameters"]:,} / `{info["model_file"]}`, {info["size_bytes"] / 1e6:.1f} MB |
| single-text latency | {latency} (ONNX Runtime, one thread) |
| made with | `{info["params"]}` |

{compression_line(info)}

Checked at export: from raw test texts, the float32 ONNX model gives the torch model's logits within
{info["tolerance"]:g} (max |difference| {info["difference"]:.1e}) and the same predictions. Texts are
read as the student was trained: {reading}.

## Usage

```
pip install onnxruntime tokenizers numpy tqdm
echo "a gorgeous, moving film" | python {folder}/predict.py {folder}
python {folder}/predict.py {folder} --input reviews.csv --text-column text --output predictions.jsonl
```

`predict.py` (a copy of distillery's `src/distillery/export/predict.py`) needs only this folder. In
Python, `Classifier("{folder}").probabilities(["a gorgeous, moving film"])` gives one row per text.
{pipeline}"""
