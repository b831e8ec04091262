"""Stage export@ARCH: the distilled ARCH student as a folder anyone can serve, with no code from this repo.

Writes data/export/ARCH/: the ONNX model of the seed with the best dev score (the smallest compressed
copy the dev gate lets ship: int8 with the vocabulary trimmed to the training texts' tokens, int8;
else float32), the teacher's tokenizer files, labels.json, config.json (its `distillery` entry: what
predict.py needs to read a text as the student does), predict.py and README.md, a model card in the
Hugging Face format. The transformer's folder is
also a save_pretrained model. Before writing, the folder is checked end to end: from raw test texts,
the float32 ONNX model must give the torch student's logits within 1e-4 and the same predictions.
"""

import sys

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import staged_outputs
from distillery.core.params import load_params
from distillery.core.paths import ARCHITECTURES
from distillery.core.task import read_task
from distillery.export.student import export_student


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in ARCHITECTURES:
        raise DistilleryError(f"usage: export.py ARCH, ARCH one of {list(ARCHITECTURES)}")
    arch = sys.argv[1]
    with staged_outputs(paths.EXPORT / arch) as out:
        info = export_student(arch, load_params(), read_task(), out)
    print(
        f"export: {arch}: ONNX matches torch on {info['test']} test texts (max |logit difference| "
        f"{info['difference']:.1e}); {info['model_file']}, {info['size_bytes'] / 1e6:.1f} MB, "
        f"{info['latency']['median']} ms a text"
    )


if __name__ == "__main__":
    run_stage(main)
