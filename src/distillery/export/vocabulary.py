"""A smaller exported model: the token embedding table cut to the tokens the student trained on.

The teacher's tokenizer knows ~30k word pieces and each student's embedding table has a row for every one,
though a student's training texts (labelled, transfer set, pool) use fewer than half of them; in the
int8 transformer that table is two thirds of the file. Trimming keeps the rows of the tokens seen in
training (and the tokenizer's special tokens) and puts in front of the table's lookup a lookup of
tokenizer id -> kept row, every unseen id going to [UNK]'s row. The tokenizer is left as it is, so
every text is split exactly as before; only the tokens no training text had read as [UNK]. Whether
that costs accuracy is for the dev gate to decide (export/gate.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillery.students.backbones import TokenTables

IDS_INPUT = "input_ids"  # the exported graphs' token id input (export/student.py)


def training_token_ids(always: list[int], tokens: TokenTables) -> np.ndarray:
    """Every token id of the texts the student trains on, whole (past the teacher's window), in its own
    tokenizer's ids (`tokens`): the labelled training set, the transfer set and the pool; plus `always`
    (the tokenizer's special tokens). Sorted."""
    sources = [(tokens.split("train"), "full_ids"), (tokens.transfer, "input_ids"), (tokens.pool, "full_ids")]
    seen = [np.asarray(always, dtype=np.int64)]
    for path, column in sources:
        if path.exists():
            seen.append(pc.list_flatten(pq.read_table(path, columns=[column])[column]).to_numpy().astype(np.int64))
    return np.unique(np.concatenate(seen))


def trim_vocabulary(fp32: Path, trimmed: Path, keep: np.ndarray, unk_id: int) -> tuple[int, int]:
    """Write `fp32` with its token embedding table cut to the rows `keep`; (rows kept, rows before).

    The table is the initializer that a Gather indexes with the graph's `input_ids`; an ONNX Runtime
    session of the result gives, for texts of kept tokens only, the same logits as `fp32`.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(fp32))
    tables = {initializer.name: initializer for initializer in model.graph.initializer}
    lookup = next(
        node
        for node in model.graph.node
        if node.op_type == "Gather" and node.input[1] == IDS_INPUT and node.input[0] in tables
    )
    table = numpy_helper.to_array(tables[lookup.input[0]])
    keep = np.unique(np.append(keep, unk_id))
    row_of = np.full(len(table), np.searchsorted(keep, unk_id), dtype=np.int32)  # unseen: [UNK]'s row
    row_of[keep] = np.arange(len(keep))
    tables[lookup.input[0]].CopyFrom(numpy_helper.from_array(table[keep], lookup.input[0]))
    model.graph.initializer.append(numpy_helper.from_array(row_of, "kept_row_of_token"))
    remap = onnx.helper.make_node("Gather", ["kept_row_of_token", IDS_INPUT], ["kept_rows"], name="trim_vocabulary")
    lookup.input[1] = "kept_rows"
    model.graph.node.insert(0, remap)
    onnx.checker.check_model(model)
    onnx.save(model, str(trimmed))
    return len(keep), len(table)
