"""A version's input reference: per-feature statistics of its training data.

Recorded at registration (`Registry.register`'s *reference*, else its *sample*) in the
version's lineage under `KEY`, so that live traffic can later be compared with what the
model was trained on (`maas_nb.drift`). For each numeric feature it keeps the row count,
mean, standard deviation and a quantile sketch: the values at evenly spaced
probabilities ``(i + 0.5) / k``, which stand in for the training column in a two-sample
test. The record is bounded whatever the data's size: at most `QUANTILES` values per
feature and `MAX_VALUES` in all (wider inputs get fewer quantiles each), computed on at
most `MAX_ROWS` rows drawn with a fixed seed; inputs wider than `MAX_FEATURES` are not
recorded. Non-numeric features (text) are named but not summarised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..exceptions import SignatureError

if TYPE_CHECKING:
    import numpy as np

#: Where in a version's lineage the reference lives.
KEY = "input_reference"
QUANTILES = 500
MAX_VALUES = 20_000
MAX_ROWS = 100_000
MAX_FEATURES = 1_000
_TEXT = "a 2-D numeric array, a pandas DataFrame or a dict of 1-D arrays"


def features(X: Any) -> dict[str, np.ndarray]:
    """The columns of the input batch *X*, by feature name, each a 1-D array.

    A DataFrame's (and a dict's) columns keep their names; the columns of an array are
    ``x0``, ``x1``, ... (an N-D array is flattened past its first axis); a list of
    strings is one feature, ``text``.
    """
    import numpy as np  # only when rows are summarised: importing maas_nb stays light

    if _is_dataframe(X):
        return {str(c): X[c].to_numpy() for c in X.columns}
    if isinstance(X, Mapping):
        out: dict[str, np.ndarray] = {}
        for name, value in X.items():
            array = np.asarray(value)
            if array.ndim <= 1:
                out[str(name)] = array.reshape(-1)
            else:
                flat = array.reshape(len(array), -1)
                out.update({f"{name}{i}": flat[:, i] for i in range(flat.shape[1])})
        return out
    if isinstance(X, (list, tuple)) and X and all(isinstance(s, str) for s in X):
        return {"text": np.asarray(X, dtype=object)}
    array = np.asarray(X)
    if array.ndim == 1:
        name = "text" if array.dtype.kind in "OUS" else "x0"
        return {name: array}
    if array.ndim == 0:
        raise SignatureError(f"Expected {_TEXT} as input rows, got a scalar: {X!r:.80}.")
    flat = array.reshape(len(array), -1)
    return {f"x{i}": flat[:, i] for i in range(flat.shape[1])}


def statistics(X: Any) -> dict[str, Any] | None:
    """The reference record of the training rows *X* (None if it has too many features)."""
    import numpy as np

    columns = features(X)
    if not columns or len(columns) > MAX_FEATURES:
        return None
    rows = len(next(iter(columns.values())))
    keep = None
    if rows > MAX_ROWS:
        keep = np.sort(np.random.default_rng(0).choice(rows, MAX_ROWS, replace=False))
    numeric = {n: c for n, c in columns.items() if c.dtype.kind in "biuf"}
    k = max(1, min(QUANTILES, MAX_VALUES // max(1, len(numeric))))
    summaries: dict[str, Any] = {}
    for name, column in numeric.items():
        values = column.astype(np.float64)
        if keep is not None:
            values = values[keep]
        values = values[np.isfinite(values)]
        summaries[name] = _summary(values, k)
    return {
        "rows": int(rows),
        "features": summaries,
        "not_numeric": [n for n in columns if n not in numeric],
    }


def _summary(values: np.ndarray, k: int) -> dict[str, Any]:
    import numpy as np

    if not len(values):
        return {"n": 0, "mean": None, "std": None, "quantiles": []}
    if len(values) <= k:
        quantiles = np.sort(values)
    else:
        quantiles = np.quantile(values, (np.arange(k) + 0.5) / k)
    return {
        "n": len(values),
        "mean": _short(values.mean()),
        "std": _short(values.std()),
        "quantiles": [_short(q) for q in quantiles],
    }


def check(reference: Any, sample: Any, name: str) -> None:
    """Raise `SignatureError` unless *reference* has the features *sample* has."""
    if sample is None:
        return
    ours, theirs = list(features(reference)), list(features(sample))
    if ours != theirs:
        raise SignatureError(
            f"The reference rows of model {name!r} have {len(ours)} features "
            f"({_names(ours)}), but its sample has {len(theirs)} ({_names(theirs)}). "
            "Pass the training rows the sample was taken from, e.g. reference=X_train "
            "with sample=X_train[:5]."
        )


def describe(record: Mapping[str, Any] | None) -> str:
    """``4 features from 150 rows``, or '' without a record."""
    if not record:
        return ""
    count = len(record.get("features", {}))
    return f"{count} feature{'s' if count != 1 else ''} from {record.get('rows', 0)} rows"


def _names(names: list[str]) -> str:
    return ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")


def _short(value: Any) -> float:
    """*value* to 7 significant digits: the sketch stays small as JSON."""
    return float(f"{float(value):.7g}")


def _is_dataframe(obj: Any) -> bool:
    return any(
        c.__name__ == "DataFrame" and c.__module__.partition(".")[0] == "pandas"
        for c in type(obj).__mro__
    )
