"""Stage twin@ARCH, `python stages/twin.py ARCH`: the twin of a student that reads word order
(ARCH: transformer or bilstm), the control: the same model and loop on the hard labels alone.

Writes data/ARCH/twin/: models/seed_<s>/ (the best dev epoch of each seed), metrics.json and
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
        raise DistilleryError(f"usage: twin.py ARCH, ARCH one of {list(ARCHITECTURES)}")
    arch = sys.argv[1]
    runs, summary = train_encoder(load_params(), arch, "twin")
    with staged_outputs(paths.trained(arch, "twin")) as out:
        write_runs(out, runs, architecture(arch).save, summary)


if __name__ == "__main__":
    run_stage(main)
