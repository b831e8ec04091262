"""Stage twin@ARCH, `python stages/twin.py ARCH`: the twin of a student that reads word order
(ARCH: transformer or bilstm), the control: the same model and loop on the hard labels alone.

Writes data/ARCH/twin/ as distil@ARCH writes data/ARCH/student/.
"""

import sys

from distillery.core.errors import run_stage
from distillery.training.encoder_role import run_stage_role

if __name__ == "__main__":
    run_stage(lambda: run_stage_role("twin", sys.argv[1:]))
