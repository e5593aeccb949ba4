"""Request rows in the model's own terms: checked against the signature, batched, split back.

Every protocol decodes its payload into `Rows`: a tensor (2-D array), text (1-D object
array of str, or a StringDType array for a big body, see `strings`) or columns (name ->
1-D array), already converted to the dtypes the signature names. Rows of several requests
concatenate into one model input, and the model's outputs are sliced back per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..flavors.signature import DATAFRAME, TENSOR, TEXT, Signature
from .errors import BadRequest
from .records import Records
from .strings import is_compact


@dataclass(frozen=True)
class Rows:
    """A batch of input rows of one kind; `data` is an array, or a dict of column arrays."""

    kind: str
    data: Any
    n: int

    @property
    def layout(self) -> tuple:
        """What must match for rows to be concatenated: kind, columns or width, dtype."""
        return layout_of(self.kind, self.data)

    def split(self, size: int) -> list[Rows]:
        """Cut into pieces of at most *size* rows (requests bigger than a batch)."""
        if self.n <= size:
            return [self]
        return [self.slice(i, min(i + size, self.n)) for i in range(0, self.n, size)]

    def slice(self, start: int, stop: int) -> Rows:
        if self.kind == DATAFRAME:
            return Rows(self.kind, {k: v[start:stop] for k, v in self.data.items()}, stop - start)
        return Rows(self.kind, self.data[start:stop], stop - start)

    def part(self, start: int, stop: int) -> Rows:
        """Rows *start*:*stop* in arrays of their own (these rows themselves when they
        are all of them): what is kept after the batch they came in, such as a shadow's
        copy, must not hold the whole batch's arrays."""
        if start == 0 and stop == self.n:
            return self
        if self.kind == DATAFRAME:
            columns = {k: v[start:stop].copy() for k, v in self.data.items()}
            return Rows(self.kind, columns, stop - start)
        return Rows(self.kind, self.data[start:stop].copy(), stop - start)


def layout_of(kind: str, data: Any) -> tuple:
    """`Rows.layout` of rows of *kind* holding *data* (without making the `Rows`)."""
    if kind == DATAFRAME:
        return (kind, tuple((k, v.dtype.str) for k, v in data.items()))
    return (kind, data.shape[1:], data.dtype.str)


def concat(parts: Sequence[Rows]) -> Rows:
    """One `Rows` holding *parts* in order."""
    if len(parts) == 1:
        return parts[0]
    return joined(parts[0].kind, [p.data for p in parts], sum(p.n for p in parts))


def joined(kind: str, datas: Sequence[Any], n: int) -> Rows:
    """One `Rows` of *kind* holding *datas* (data of one layout) end to end: *n* rows."""
    if kind == DATAFRAME:
        return Rows(kind, {k: np.concatenate([d[k] for d in datas]) for k in datas[0]}, n)
    return Rows(kind, np.concatenate(datas), n)


def model_input(rows: Rows) -> Any:
    """What the flavor's ``predict`` takes: an array, a list of str, or a DataFrame.

    Compact text stays compact: sklearn's text pipelines iterate it as they do a list."""
    if rows.kind == DATAFRAME:
        import pandas as pd

        return pd.DataFrame(rows.data)
    if rows.kind == TEXT:
        return rows.data if is_compact(rows.data) else rows.data.tolist()
    return rows.data


def json_values(value: np.ndarray, *, output: str) -> list:
    """``value.tolist()``, refusing inf and NaN, which JSON cannot carry."""
    if value.dtype.kind in "fc" and not np.isfinite(value).all():
        raise BadRequest(
            f"The model's output {output!r} holds inf or NaN for this input, which JSON cannot "
            "carry; check the input's range."
        )
    return value.tolist()


def slice_outputs(outputs: Mapping[str, np.ndarray], start: int, stop: int) -> dict[str, Any]:
    return {name: value[start:stop] for name, value in outputs.items()}


# -- building rows from decoded JSON --------------------------------------------------------


def tensor_rows(values: Any, signature: Signature, *, model: str, where: str) -> Rows:
    """A 2-D numeric input (rows x features) from nested lists."""
    spec = signature.inputs[0]
    array = to_array(values, spec.dtype, model=model, where=where)
    if array.ndim == 1 and array.size == signature.n_features:
        array = array.reshape(1, -1)  # a single row given flat
    if array.ndim != 2:
        raise BadRequest(
            f"{where}: model {model!r} expects rows of {signature.n_features} features "
            f"(shape [N, {signature.n_features}]), got an input of shape {list(array.shape)}."
        )
    if array.shape[1] != signature.n_features:
        raise BadRequest(
            f"{where}: X has {array.shape[1]} features, but model {model!r} expects "
            f"{signature.describe_inputs()}."
        )
    return Rows(TENSOR, array, array.shape[0])


def text_rows(values: Any, *, model: str, where: str) -> Rows:
    """Raw strings, one per row."""
    if is_compact(values) and values.ndim == 1 and len(values):
        return Rows(TEXT, values, len(values))
    if isinstance(values, str):
        values = [values]
    if (
        isinstance(values, list)
        and values
        and all(isinstance(v, list) and len(v) == 1 for v in values)
    ):
        values = [v[0] for v in values]  # [[text], [text]] from column-shaped clients
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise BadRequest(
            f"{where}: model {model!r} expects a non-empty list of strings, got {_kind(values)}."
        )
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return Rows(TEXT, array, len(values))


def column_rows(
    columns: Mapping[str, Any], signature: Signature, *, model: str, where: str
) -> Rows:
    """Named columns of equal length, converted to the signature's dtypes."""
    missing = [c for c in signature.columns if c not in columns]
    if missing:
        raise BadRequest(
            f"{where}: missing column(s) {', '.join(map(repr, missing))}; model {model!r} "
            f"expects {signature.describe_inputs()}, got {', '.join(map(repr, columns)) or 'none'}."
        )
    unknown = [c for c in columns if c not in signature.columns]
    if unknown:
        raise BadRequest(
            f"{where}: unknown column(s) {', '.join(repr(str(c)[:60]) for c in unknown[:10])}; "
            f"model {model!r} expects {signature.describe_inputs()}. Leave them out."
        )
    data = {}
    for spec in signature.inputs:
        array = to_array(
            columns[spec.name], spec.dtype, model=model, where=f"{where}, column {spec.name!r}"
        )
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim != 1:
            raise BadRequest(
                f"{where}: column {spec.name!r} must be a list of values, "
                f"got shape {list(array.shape)}."
            )
        data[spec.name] = array
    lengths = {len(a) for a in data.values()}
    if len(lengths) != 1:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in data.items())
        raise BadRequest(
            f"{where}: columns have different lengths ({sizes}); "
            "every column needs one value per row."
        )
    n = lengths.pop()
    if n == 0:
        raise BadRequest(f"{where}: the request has no rows.")
    return Rows(DATAFRAME, data, n)


def record_rows(records: Any, signature: Signature, *, model: str, where: str) -> Rows:
    """Rows given as a list of {column: value} objects (or `Records`, the same as columns)."""
    if isinstance(records, Records):
        return _columns_of(records, signature, model=model, where=where)
    if (
        not isinstance(records, list)
        or not records
        or not all(isinstance(r, dict) for r in records)
    ):
        raise BadRequest(
            f"{where}: expected a non-empty list of objects (one per row), got {_kind(records)}."
        )
    columns = {name: [r.get(name) for r in records] for name in signature.columns}
    for i, record in enumerate(records):
        absent = [c for c in signature.columns if c not in record]
        if absent:
            raise BadRequest(
                f"{where}: row {i} is missing column(s) {', '.join(map(repr, absent))}; model "
                f"{model!r} expects {signature.describe_inputs()}."
            )
        if len(record) > len(signature.columns):  # every column is there: the rest are extra
            extra = [repr(str(c)[:60]) for c in record if c not in columns][:10]
            raise BadRequest(
                f"{where}: row {i} has unknown column(s) {', '.join(extra)}; model {model!r} "
                f"expects {signature.describe_inputs()}. Leave them out."
            )
    return column_rows(columns, signature, model=model, where=where)


def _columns_of(records: Records, signature: Signature, *, model: str, where: str) -> Rows:
    """`record_rows` for records that share their keys: row 0 speaks for every row."""
    absent = [c for c in signature.columns if c not in records.keys]
    if absent:
        raise BadRequest(
            f"{where}: row 0 is missing column(s) {', '.join(map(repr, absent))}; model "
            f"{model!r} expects {signature.describe_inputs()}."
        )
    if len(records.keys) > len(signature.columns):
        extra = [repr(str(c)[:60]) for c in records.keys if c not in signature.columns][:10]
        raise BadRequest(
            f"{where}: row 0 has unknown column(s) {', '.join(extra)}; model {model!r} "
            f"expects {signature.describe_inputs()}. Leave them out."
        )
    columns = {name: records.columns[name] for name in signature.columns}
    return column_rows(columns, signature, model=model, where=where)


def to_array(values: Any, dtype: str, *, model: str, where: str) -> np.ndarray:
    """Convert JSON values to *dtype*, refusing strings for numbers and ragged rows."""
    if dtype == "str":
        if is_compact(values) and values.ndim == 1:
            return values.astype(object)
        if not _all_strings(values):
            raise BadRequest(f"{where}: model {model!r} expects strings, got {_kind(values)}.")
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    try:
        raw = np.asarray(values)
    except ValueError:
        raise BadRequest(
            f"{where}: rows have different lengths; every row needs the same number of features."
        ) from None
    huge = next((v for v in raw.flat if _beyond_64_bits(v)), None) if raw.dtype == object else None
    if huge is not None and np.dtype(dtype).kind == "f":
        # JSON integers beyond 64 bits are still numbers a float input can take.
        raw = _as_floats(values, where=where)
    elif huge is not None:
        raise BadRequest(
            f"{where}: {str(huge)[:40]} does not fit in 64 bits; model {model!r} expects "
            f"integers ({dtype}). Send values within the range of {dtype}."
        )
    if raw.dtype == object:
        raise BadRequest(
            f"{where}: rows have different lengths or mix types; "
            "send a rectangular list of numbers."
        )
    if raw.size == 0:
        raise BadRequest(f"{where}: the request has no rows.")
    if raw.dtype.kind not in "biuf":
        raise BadRequest(
            f"{where}: model {model!r} expects numbers ({dtype}), got values of type "
            f"{_json_type(raw)} such as {_first(raw)!r}."
        )
    target = np.dtype(dtype)
    if target.kind in "iu":
        fractional = raw[np.mod(raw, 1) != 0] if raw.dtype.kind == "f" else raw[:0]
        if fractional.size:
            raise BadRequest(
                f"{where}: model {model!r} expects integers ({dtype}), got {fractional.size} "
                f"fractional number(s) such as {fractional.flat[0].item()!r}. Send whole "
                "numbers (2 or 2.0); fractions are refused, not rounded."
            )
        info = np.iinfo(target)
        low, high = raw.min().item(), raw.max().item()  # Python numbers compare exactly
        if low < info.min or high > info.max:
            raise BadRequest(
                f"{where}: values must lie in [{info.min}, {info.max}] for {dtype}, got "
                f"{low}..{high}."
            )
    try:
        with np.errstate(over="raise", invalid="raise"):
            return raw.astype(target, casting="unsafe", copy=False)
    except (FloatingPointError, OverflowError, ValueError) as exc:
        raise BadRequest(f"{where}: values do not fit {dtype}: {exc}.") from None


def _as_floats(values: Any, *, where: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except OverflowError:
        raise BadRequest(
            f"{where}: a value is beyond the range of float64 (about 1.8e308); send smaller "
            "numbers."
        ) from None
    except (ValueError, TypeError):
        raise BadRequest(
            f"{where}: rows have different lengths or mix types; "
            "send a rectangular list of numbers."
        ) from None


def _beyond_64_bits(value: Any) -> bool:
    """An integer numpy cannot hold (it makes an object array of such JSON numbers)."""
    return type(value) is int and not -(2**63) <= value < 2**64


def _all_strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def _first(array: np.ndarray) -> Any:
    first = array.flat[0]
    return first.item() if isinstance(first, np.generic) else first  # StringDType gives str


def _json_type(array: np.ndarray) -> str:
    return {"U": "string", "S": "string", "T": "string", "b": "boolean"}.get(
        array.dtype.kind, array.dtype.name
    )


_ITEM_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool"}


def _kind(value: Any) -> str:
    if isinstance(value, Records):
        return f"a list of {len(value)} item(s) of type dict"
    if isinstance(value, np.ndarray) and value.ndim:  # a big JSON array, parsed by `dense`
        item = "list" if value.ndim > 1 else _ITEM_TYPES.get(value.dtype.kind, "str")
        return f"a list of {len(value)} item(s) of type {item if len(value) else 'nothing'}"
    if isinstance(value, list):
        inner = sorted({type(v).__name__ for v in value})
        return f"a list of {len(value)} item(s) of type {', '.join(inner) or 'nothing'}"
    return f"{type(value).__name__} {str(value)[:60]!r}"
