"""Stage teacher_source: what `teacher.model` holds right now, so that a changed local teacher re-runs its stages.

Writes data/teacher_source/fingerprint.json. For a local directory (the bundled teacher included) it
lists the SHA-256 of every file, not the path, so teammates with the same files share caches; for a
hub id it is the id alone (a hub id stays a param). DVC runs this stage on every `dvc repro`
(always_changed), because nothing else can notice files replaced in a folder outside the project;
the stages that read the teacher depend on the JSON, so they re-run only when its content changes.
"""

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import staged_outputs, write_json
from distillery.core.params import load_params, param
from distillery.teacher.files import fingerprint


def main() -> None:
    name = str(param(load_params(), "teacher.model"))
    with staged_outputs(paths.TEACHER_SOURCE) as out:
        write_json(fingerprint(name), out / "fingerprint.json")


if __name__ == "__main__":
    run_stage(main)
