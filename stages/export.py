"""Stage export: the distilled bag student as a folder anyone can serve, with no code from this repo.

Writes data/export/bag/: model.onnx (the seed with the best dev score), the teacher's tokenizer
(save_pretrained files), labels.json, config.json (what predict.py needs to read a text as the student
does), predict.py and README.md, a model card. Before writing, it checks the folder end to end:
predict.py's Classifier, from raw test texts through the tokenizer and ONNX Runtime, must give the
torch model's logits on the tokenized test set within 1e-4 and the same predictions, else the stage fails.
"""

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import staged_outputs
from distillery.core.params import load_params
from distillery.core.task import read_task
from distillery.export.bag import NAME, export_bag


def main() -> None:
    with staged_outputs(paths.EXPORT / NAME) as out:
        info = export_bag(load_params(), read_task(), out)
    print(
        f"export: ONNX matches torch on {info['test']} test texts (max |logit difference| {info['difference']:.1e}); "
        f"{info['latency']['median']} ms a text"
    )


if __name__ == "__main__":
    run_stage(main)
