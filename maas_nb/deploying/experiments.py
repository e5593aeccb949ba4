"""The client side of a live experiment: ground truth to the server, the comparison back.

`feedback` posts the truth of request ids (the ``X-Maas-Request-Id`` of each response)
to the deployment's server, which joins it to what each version answered; `experiment`
reads the live comparison (``GET /maas/experiments/NAME``) as an `Experiment`: the
server's JSON, with a table of the versions and their 95 % intervals, the warning and a
chart in a notebook, and the same table as text.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import charts
from ..exceptions import ConfigurationError, PredictionError, ServerUnavailableError
from ..tables import text_table
from . import remote, targets
from .deployment import Deployment

#: Rows of feedback per POST (a body far below the server's size limit).
CHUNK = 10_000


def _served(name: str, home: str | None, target: str | None) -> Deployment:
    """The deployment *name*, on a maas_nb server that answers."""
    from .api import get_deployment

    dep = get_deployment(name, home=home, target=target)
    if targets.scheme_of(str(dep.config.get(targets.OWN_TARGET, "local"))) == "ray":
        raise ConfigurationError(
            f"Deployment {name!r} runs on the ray target, where live experiments (feedback, "
            "the live comparison) are not supported yet; deploy it on a maas_nb server "
            "(target local or a URL)."
        )
    if dep.elsewhere:
        raise ServerUnavailableError(f"{dep._elsewhere()}.")
    if not dep.server:
        raise ServerUnavailableError(
            f"Deployment {name!r} has no running server: deploy it again to start one."
        )
    return dep


def _plain(value: Any) -> Any:
    """A truth value as JSON takes it (numpy scalars and arrays to Python)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def feedback_items(ids: Any, truth: Any = None) -> list[dict[str, Any]]:
    """``[{"id": ..., "truth": ...}]`` from a dict id -> truth, a DataFrame with ``id``
    and ``truth`` columns, a Series indexed by id, or two sequences of the same length."""
    if truth is None:
        if isinstance(ids, Mapping):
            pairs: Iterable[tuple[Any, Any]] = ids.items()
        elif hasattr(ids, "columns") and {"id", "truth"} <= set(ids.columns):
            pairs = zip(ids["id"].tolist(), ids["truth"].tolist(), strict=True)
        elif hasattr(ids, "index") and hasattr(ids, "tolist") and hasattr(ids, "name"):
            pairs = zip(ids.index.tolist(), ids.tolist(), strict=True)
        else:
            raise ConfigurationError(
                f"feedback needs the ground truth of request ids: a dict id -> truth, a "
                f"DataFrame with 'id' and 'truth' columns, or ids and truth; got "
                f"{type(ids).__name__} alone."
            )
    else:
        ids, truth = list(_plain(ids)), list(_plain(truth))
        if len(ids) != len(truth):
            raise ConfigurationError(
                f"feedback got {len(ids)} ids and {len(truth)} truths; give one truth per "
                "request id."
            )
        pairs = zip(ids, truth, strict=True)
    items = [{"id": str(i), "truth": _plain(t)} for i, t in pairs]
    if not items:
        raise ConfigurationError("feedback got no rows: give at least one request id and truth.")
    return items


def feedback(
    name: str,
    ids: Any,
    truth: Any = None,
    *,
    home: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """Post the ground truth of request ids to deployment *name*'s server (see
    `feedback_items` for the forms taken); ``{"joined", "unknown", "mismatched",
    "versions"}``: how many ids were joined, those the server did not remember, those
    whose truth did not fit, and the rows joined per version."""
    items = feedback_items(ids, truth)
    dep = _served(name, home, target)
    total: dict[str, Any] = {"joined": 0, "unknown": [], "mismatched": [], "versions": {}}
    for start in range(0, len(items), CHUNK):
        response = remote.http().post(
            f"{dep.server}/v2/models/{name}/feedback",
            json={"feedback": items[start : start + CHUNK]},
            headers=remote.auth_headers(),
        )
        if response.status_code != 200:
            raise PredictionError(
                f"Deployment {name!r} refused the feedback ({response.status_code}): "
                f"{remote.error_text(response)}"
            )
        part = response.json()
        total["joined"] += part["joined"]
        total["unknown"] += part["unknown"]
        total["mismatched"] += part.get("mismatched", [])
        for version, n in part["versions"].items():
            total["versions"][version] = total["versions"].get(version, 0) + n
    return total


def experiment(name: str, *, home: str | None = None, target: str | None = None) -> Experiment:
    """The live comparison of deployment *name*'s versions, from its server."""
    dep = _served(name, home, target)
    response = remote.http().get(
        f"{dep.server}/maas/experiments/{name}", headers=remote.auth_headers()
    )
    if response.status_code != 200:
        raise ServerUnavailableError(
            f"The server at {dep.server} answered {response.status_code} for the experiment "
            f"of {name!r}: {remote.error_text(response)}"
        )
    return Experiment(response.json())


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _with_ci(value: Any, ci: Sequence[float] | None) -> str:
    if value is None:
        return "-"
    if not ci:
        return _number(value)
    return f"{_number(value)} [{_number(ci[0])}, {_number(ci[1])}]"


COLUMNS = ("version", "role", "weight", "requests", "error rate", "p50 ms", "p99 ms")


class Experiment(dict):
    """The server's JSON of a live experiment (a dict), shown as a table of versions with
    their 95 % intervals, the warning and (in a notebook) a chart of the window."""

    @property
    def metric(self) -> str:
        return "accuracy" if self.get("task") == "classification" else "mae"

    def rows(self) -> list[list[str]]:
        """One row per version: the table's cells as text."""
        out = []
        for v in self.get("versions", []):
            weight = f"{v.get('percent', 0):g}% copy" if v["role"] == "shadow" else v["weight"]
            latency, agreement, fed = v["latency_ms"], v["agreement"], v["feedback"]
            out.append(
                [
                    v["version"],
                    v["role"],
                    str(weight),
                    str(v["requests"]),
                    _with_ci(v["errors"]["rate"], v["errors"]["ci"]),
                    _number(latency["p50"]),
                    _with_ci(latency["p99"], latency["p99_ci"]),
                    _with_ci(agreement["rate"], agreement["ci"]),
                    str(fed["count"]),
                    _with_ci(fed["value"], fed["ci"]),
                ]
            )
        return out

    def headers(self) -> list[str]:
        return [*COLUMNS, "agreement", "feedback", self.metric]

    def title(self) -> str:
        window = self.get("window_s")
        return (
            f"Experiment {self.get('deployment')} (generation {self.get('generation')}, "
            f"primary {self.get('primary')}, last {window} s)"
        )

    def text(self) -> str:
        lines = [self.title(), text_table(self.headers(), self.rows(), empty="(no versions)")]
        if self.get("warning"):
            lines.append(f"warning: {self['warning']}")
        if self.get("guard"):
            guard = self["guard"]
            lines.append(f"guard: {guard.get('state')} {guard.get('reason') or ''}".rstrip())
        return "\n".join(lines)

    def chart(self) -> str:
        """The window's series as SVG ("" when there is nothing to draw)."""
        return charts.live_svg(self.get("series", {}), metric=self.metric)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers())
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self.rows()
        )
        warning = self.get("warning")
        note = (
            f"<p class='maas-warning' style='color:#a15c00'>&#9888; {html.escape(warning)}</p>"
            if warning
            else "<p class='maas-enough'>Enough data to tell the versions apart.</p>"
        )
        return (
            f"<div class='maas-experiment'><b>{html.escape(self.title())}</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"
            f"{charts.figure_html(self.chart())}</div>"
        )
