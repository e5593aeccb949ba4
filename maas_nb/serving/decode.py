"""Turning decoded JSON into `Rows`, shared by the TF-Serving and MLflow-style protocols.

A big array of numbers or strings arrives as an ndarray rather than a list (see `scan`);
every branch here reads both the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..flavors.signature import DATAFRAME, TENSOR, TEXT, Signature, TensorSpec
from .errors import BadRequest
from .records import Records
from .rows import Rows, column_rows, record_rows, tensor_rows, text_rows
from .strings import is_compact


def implicit_signature(values: Any) -> Signature:
    """For a version registered without a signature: text if strings, else a numeric tensor."""
    first = values
    while isinstance(first, list) and first:
        first = first[0]
    if isinstance(first, str) or is_compact(values):
        return Signature(TEXT, (TensorSpec("text", "str", (-1,)),), ())
    if isinstance(values, np.ndarray):
        width = values.shape[1] if values.ndim == 2 else None
    else:
        width = (
            len(values[0])
            if isinstance(values, list) and values and isinstance(values[0], list)
            else None
        )
    if width is None:
        raise BadRequest(
            "This model version has no signature; send rows as a list of lists of numbers "
            "or a list of strings. Register it with sample= to accept other forms."
        )
    return Signature(TENSOR, (TensorSpec("input", "float64", (-1, width)),), ())


def rows_from(values: Any, signature: Signature | None, *, model: str, where: str) -> Rows:
    """Rows from a list of rows (lists, strings or objects) or a dict of columns."""
    named = signature is not None  # an implicit signature's input name is ours, not the client's
    if signature is None:
        signature = implicit_signature(values)
    if isinstance(values, Records) and (
        len(values.keys) == 1 if signature.kind == TEXT else signature.kind == TENSOR
    ):
        values = _from_records(values, signature, named=named, model=model, where=where)
    if signature.kind == TEXT:
        if isinstance(values, dict) and len(values) == 1:
            if named:
                check_input_names(values, signature, model=model, where=where)
            values = next(iter(values.values()))
        if (
            isinstance(values, list)
            and values
            and all(isinstance(v, dict) and len(v) == 1 for v in values)
        ):
            if named:
                check_input_names(_keys(values), signature, model=model, where=where)
            values = [next(iter(v.values())) for v in values]
        return text_rows(values, model=model, where=where)
    if signature.kind == DATAFRAME:
        if isinstance(values, dict):
            return column_rows(values, signature, model=model, where=where)
        if isinstance(values, np.ndarray) and values.ndim == 2:
            width = len(signature.columns)
            if values.shape[1] != width:
                raise BadRequest(
                    f"{where}: model {model!r} expects rows of {width} values "
                    f"({', '.join(signature.columns)}), or objects keyed by column name."
                )
            by_name = {c: values[:, i] for i, c in enumerate(signature.columns)}
            return column_rows(by_name, signature, model=model, where=where)
        if isinstance(values, list) and values and isinstance(values[0], list):
            width = len(signature.columns)
            if not all(isinstance(r, list) and len(r) == width for r in values):
                raise BadRequest(
                    f"{where}: model {model!r} expects rows of {width} values "
                    f"({', '.join(signature.columns)}), or objects keyed by column name."
                )
            columns = {c: [r[i] for r in values] for i, c in enumerate(signature.columns)}
            return column_rows(columns, signature, model=model, where=where)
        return record_rows(values, signature, model=model, where=where)
    if isinstance(values, dict) and len(values) == 1:
        if named:
            check_input_names(values, signature, model=model, where=where)
        values = next(iter(values.values()))  # {"input": [[...]]}
    if isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
        if all(len(v) == 1 and isinstance(next(iter(v.values())), list) for v in values):
            if named:
                check_input_names(_keys(values), signature, model=model, where=where)
            values = [next(iter(v.values())) for v in values]  # [{"input": [...]}, ...]
        else:  # records: the first record's keys give the order, and every record has them
            keys = list(values[0])
            if any(set(v) != set(keys) for v in values):
                raise BadRequest(f"{where}: every record needs the same keys ({', '.join(keys)}).")
            values = [[v[k] for k in keys] for v in values]
    return tensor_rows(values, signature, model=model, where=where)


def _from_records(
    records: Records, signature: Signature, *, named: bool, model: str, where: str
) -> Any:
    """What `rows_from` makes of a list of records, from `Records`: the one column of
    single-key records for text, rows of values in key order for a tensor."""
    if signature.kind == TEXT:
        if named:
            check_input_names(records.keys, signature, model=model, where=where)
        return records.columns[records.keys[0]]
    if records.numeric():
        return np.column_stack([records.columns[k] for k in records.keys])
    return records.to_list()  # strings among numbers: as json gives them, for its messages


def check_input_names(names: Any, signature: Signature, *, model: str, where: str) -> None:
    """Refuse input names the signature does not have, as TF Serving and MLflow do."""
    known = [spec.name for spec in signature.inputs]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadRequest(
            f"{where}: unknown input name(s) {', '.join(repr(str(n)[:60]) for n in unknown[:10])}; "
            f"model {model!r} takes {', '.join(map(repr, known))}. Name the inputs as its "
            "signature does, or send plain rows without names."
        )


def _keys(records: list[dict]) -> dict[Any, None]:
    """The keys of *records*, each once, in order of appearance."""
    return {k: None for record in records for k in record}


def split_frame(payload: Any, signature: Signature | None, *, model: str) -> Rows:
    """MLflow's ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}``."""
    where = "dataframe_split"
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), (list, np.ndarray)):
        raise BadRequest(
            f'{where} must be an object with a "data" list of rows (and optional "columns").'
        )
    data, columns = payload["data"], payload.get("columns")
    if columns is not None:  # pandas refuses a frame whose rows do not fit its columns
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise BadRequest(f'{where}: "columns" must be a list of column names.')
        if isinstance(data, np.ndarray):
            rectangular = data.ndim == 2 and data.shape[1] == len(columns)
        else:
            rectangular = all(isinstance(r, list) and len(r) == len(columns) for r in data)
        if not rectangular:
            raise BadRequest(
                f'{where}: every row of "data" needs one value per column ({len(columns)}).'
            )
    if signature is not None and signature.kind == DATAFRAME and columns is not None:
        by_name: dict[str, Any]
        if isinstance(data, np.ndarray):
            by_name = {c: data[:, i] for i, c in enumerate(columns)}
        else:
            by_name = {c: [r[i] for r in data] for i, c in enumerate(columns)}
        return column_rows(by_name, signature, model=model, where=where)
    return rows_from(data, signature, model=model, where=where)
