"""Input drift: has live traffic moved away from the data a version was trained on?

For each numeric feature of the version's input reference (recorded at registration,
`maas_nb.registry.reference`), the logged inputs are compared with the reference's
quantile sketch by scipy's two-sample Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`):
the statistic D is the largest gap between the two empirical distribution functions
(0: identical, 1: disjoint). A feature is flagged when the test rejects "same
distribution" at *alpha* shared among the features tested (Bonferroni: each is tested at
``alpha / features``) and D is at least *min_statistic*, so that a big log does not flag
differences too small to matter (a mean moved by one standard deviation of a normal
feature gives D of about 0.38; the same distribution, D near 0). A feature with fewer
than *min_rows* logged values, or a reference of fewer rows, is never flagged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..api import registry
from ..exceptions import NotFoundError
from ..registry import ModelRef
from ..registry.reference import KEY
from .log_reader import prediction_log

if TYPE_CHECKING:
    import pandas as pd

ALPHA = 0.01
MIN_STATISTIC = 0.1
MIN_ROWS = 30
COLUMNS = (
    "rows",
    "reference_rows",
    "reference_mean",
    "mean",
    "statistic",
    "p_value",
    "flagged",
    "note",
)


def compare(
    reference: Mapping[str, Any],
    frame: pd.DataFrame,
    *,
    alpha: float = ALPHA,
    min_statistic: float = MIN_STATISTIC,
    min_rows: int = MIN_ROWS,
) -> pd.DataFrame:
    """The drift of each reference feature in *frame* (a column per feature), one row each."""
    import numpy as np
    import pandas as pd
    from scipy.stats import ks_2samp

    features: Mapping[str, Any] = reference.get("features", {})
    tested = [name for name in features if name in frame.columns]
    each_alpha = alpha / max(1, len(tested))
    rows: list[tuple[Any, ...]] = []
    for name, summary in features.items():
        expected = np.asarray(summary.get("quantiles", []), dtype=np.float64)
        column = frame[name] if name in frame.columns else pd.Series([], dtype=float)
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        mean = float(values.mean()) if len(values) else None
        head = (name, len(values), summary.get("n", 0), summary.get("mean"), mean)
        if len(values) == 0 or len(expected) == 0:
            rows.append((*head, None, None, False, "no values logged"))
            continue
        test = ks_2samp(expected, values)
        statistic, p_value = float(test.statistic), float(test.pvalue)
        note = ""
        if len(values) < min_rows:
            note = f"too few rows ({len(values)} < {min_rows})"
        elif summary.get("n", 0) < min_rows:
            note = f"reference of {summary.get('n', 0)} rows: register with reference=X_train"
        flagged = not note and p_value < each_alpha and statistic >= min_statistic
        rows.append((*head, statistic, p_value, bool(flagged), note))
    out = pd.DataFrame(rows, columns=["feature", *COLUMNS]).set_index("feature")
    return out.astype({"flagged": bool})


def drift(
    name: str,
    version: int | str | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    alpha: float = ALPHA,
    min_statistic: float = MIN_STATISTIC,
    min_rows: int = MIN_ROWS,
) -> pd.DataFrame:
    """Input drift of deployment *name*'s logged traffic against a version's reference.

    *version* (a number, or a URI such as ``iris:3``) names the version whose training
    statistics are the reference; by default, the version that answered the newest
    logged request (else the one the deployment serves). Every logged request counts,
    whichever version answered it; shadow copies do not (they repeat a request's inputs).
    Returns one row per feature (see the module's docstring for when it is flagged); the
    frame's ``attrs["version"]`` says which reference was used.
    """
    reg = registry(home)
    frame = prediction_log(name, home=home)
    frame = frame[~frame["shadow"].astype(bool)] if len(frame) else frame
    uri = _reference_uri(reg, name, version, frame)
    record = reg.get(uri)
    reference = record.lineage.get(KEY)
    if not reference:
        raise NotFoundError(
            f"Version {record.uri} has no input statistics to compare the traffic with. "
            f"Register the model with its training rows, e.g. maas_nb.register(model, "
            f"{record.name!r}, sample=X_train[:5], reference=X_train), and deploy that version."
        )
    out = compare(reference, frame, alpha=alpha, min_statistic=min_statistic, min_rows=min_rows)
    out.attrs["version"] = record.uri
    return out


def _reference_uri(reg: Any, name: str, version: int | str | None, frame: pd.DataFrame) -> str:
    if isinstance(version, str) and not version.isdigit():
        return version
    if version is None and len(frame):
        last = frame.iloc[-1]
        return f"{last['model']}:{int(last['version'])}"
    target = reg.get_deployment(name).target
    if version is None:
        return reg.get(target).uri
    return f"{ModelRef.parse(target).name}:{int(version)}"
