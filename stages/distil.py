"""Stage distil@ARCH, `python stages/distil.py ARCH`: a distilled student that reads word order
(ARCH: transformer or bilstm), from the teacher's logits on train and `<arch>.transfer` of the transfer set.

Writes data/ARCH/student/: models/seed_<s>/ (the best dev epoch of each seed), metrics.json and
history.csv (per epoch, mean over the seeds still training).
"""

import sys

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import staged_outputs
from distillery.core.params import load_params
from distillery.students.encoders import ARCHITECTURES, architecture
from distillery.training.encoder_role import train_encoder
from distillery.training.runs import write_runs


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in ARCHITECTURES:
        raise DistilleryError(f"usage: distil.py ARCH, ARCH one of {list(ARCHITECTURES)}")
    arch = sys.argv[1]
    runs, summary = train_encoder(load_params(), arch, "student")
    with staged_outputs(paths.trained(arch, "student")) as out:
        write_runs(out, runs, architecture(arch).save, summary)


if __name__ == "__main__":
    run_stage(main)
