"""Stage distil@ARCH, `python stages/distil.py ARCH`: a distilled student that reads word order
(ARCH: transformer or bilstm), from the teacher's logits on train and on the mixes of the transfer set
and the unlabelled pool in `<arch>.transfer` and `<arch>.pool`, the best on dev kept.

Writes data/ARCH/student/: models/seed_<s>/ (the best dev epoch of each seed), metrics.json and
history.csv (per epoch, mean over the seeds still training).
"""

import sys

from distillery.core.errors import run_stage
from distillery.training.encoder_role import run_stage_role

if __name__ == "__main__":
    run_stage(lambda: run_stage_role("student", sys.argv[1:]))
