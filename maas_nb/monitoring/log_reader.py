"""`prediction_log`: a deployment's logged predictions as a pandas DataFrame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .. import config
from ..exceptions import DeploymentNotFoundError
from ..serving.prediction_log import SUFFIX, log_dir

if TYPE_CHECKING:
    import pandas as pd

#: The columns every log has, before the input features and the outputs.
HEAD = ("at", "request_id", "model", "version", "latency_ms", "shadow", "row")


def prediction_log(
    name: str,
    *,
    home: str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The logged predictions of deployment *name*, oldest first (the last *limit* rows).

    Columns: ``at`` (UTC time), ``request_id``, ``model``, ``version``, ``latency_ms``,
    ``shadow``, ``row`` (its place in the request), then one column per input feature and
    one per output (an output named like a feature is prefixed ``output_``). The log is
    read from the registry home of the server that wrote it (*home*, default
    ``$MAAS_HOME``); a deployment logs only when deployed with ``log_sample``.
    """
    import pandas as pd

    directory = log_dir(config.home_dir(home), name)
    records = list(_records(directory))
    if not records and not directory.is_dir():
        raise DeploymentNotFoundError(
            f"Deployment {name!r} has no prediction log in {directory.parent}. Deploy it with "
            f"log_sample (maas deploy MODEL --name {name} --log-sample 0.01) and send it "
            "requests; the log is kept beside the home of the server that answers."
        )
    if limit is not None:
        records = records[-limit:] if limit > 0 else []
    inputs = _names(r["inputs"] for r in records)
    outputs = _names(r["outputs"] for r in records)
    taken = {*HEAD, *inputs}
    output_columns = {o: (f"output_{o}" if o in taken else o) for o in outputs}
    rows = [
        [
            *(r.get(h) for h in HEAD),
            *(r["inputs"].get(f) for f in inputs),
            *(r["outputs"].get(o) for o in outputs),
        ]
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=[*HEAD, *inputs, *output_columns.values()])
    frame["at"] = pd.to_datetime(frame["at"], unit="s", utc=True)
    return frame


def _records(directory: Path) -> Any:
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # removed by the server's rotation meanwhile
            continue
        for line in data.splitlines():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line being written: the next read has it whole


def _names(dicts: Any) -> list[str]:
    """The keys of *dicts*, in the order they first appear."""
    seen: dict[str, None] = {}
    for d in dicts:
        for key in d:
            seen.setdefault(key, None)
    return list(seen)
