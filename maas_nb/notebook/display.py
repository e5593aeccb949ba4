"""Rich results for notebooks: HTML for people, a deterministic text form for nbval and logs.

The text form never contains timestamps, ports, pids, digests or run ids (unless the
feedback level asks for them), so executed notebooks compare equal run after run.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..registry import Model, ModelVersion, Run, trust
from ..tables import text_table


class Display:
    """A result shown in a notebook: ``repr`` is the stable text, ``_repr_html_`` the card."""

    def __init__(self, text: str, html_: str, value: Any = None) -> None:
        self.text = text
        self.html = html_
        self.value = value

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html

    def __getattr__(self, name: str) -> Any:
        # `dep = %maas deploy ...` then `dep.predict(X)`: the card stands for its value.
        if name.startswith("_") or self.__dict__.get("value") is None:
            raise AttributeError(name)
        return getattr(self.value, name)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str, value: Any = None
) -> Display:
    if not rows:
        return Display(empty, f"<p>{html.escape(empty)}</p>", value)
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if c is None else str(c))}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return Display(
        text_table(headers, rows),
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
        value,
    )


def card(title: str, fields: Sequence[tuple[str, Any]], *, value: Any = None) -> Display:
    shown = [(k, v) for k, v in fields if v not in (None, "", {}, [])]
    width = max((len(k) for k, _ in shown), default=0)
    text = "\n".join([title, *(f"  {k.ljust(width)}  {v}" for k, v in shown)])
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in shown
    )
    return Display(text, f"<div><b>{html.escape(title)}</b><table>{rows}</table></div>", value)


def metrics_text(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))


def params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))


def version_card(v: ModelVersion, *, verbose: int = 1, pipeline: Any = None) -> Display:
    fields: list[tuple[str, Any]] = [
        ("flavor", v.flavor),
        ("aliases", ", ".join(v.aliases)),
        ("description", v.description),
        ("signature", str(v.signature) if v.signature else "-"),
        ("metrics", metrics_text(dict(v.metrics))),
        # Only what goes beyond the built-in allow-list: most versions need nothing more.
        ("trust", trust.describe(v.trust, times=verbose >= 2) if v.trust.get("needs") else ""),
    ]
    lineage = dict(v.lineage)
    data = lineage.get("training_data", {})
    if data:
        fields.append(("training data", ", ".join(f"{k} {d['shape']}" for k, d in data.items())))
    if pipeline is not None:
        params = params_text(pipeline.parameters)
        repeats = f" (rerun of {pipeline.rerun_of[:12]})" if pipeline.rerun_of else ""
        fields += [
            ("pipeline run", f"{pipeline.id[:12]}{repeats}"),
            ("pipeline", f"{pipeline.notebook} ({pipeline.status})"),
            ("parameters", params),
            (
                "executed notebook",
                f"maas runs export {pipeline.id[:12]} out.ipynb "
                f"(in a notebook: %maas runs export {pipeline.id[:12]} out.ipynb)",
            ),
        ]
    if verbose >= 2:
        fields += [
            ("digest", v.digest),
            ("size", v.size),
            ("created", v.created_at.isoformat()),
            ("run", v.run_id),
        ]
    return card(f"Model version {v.uri}", fields, value=v)


def models_table(models: Sequence[Model]) -> Display:
    rows = [
        [
            m.name,
            m.version_count,
            m.latest_version or "-",
            ", ".join(f"{a}->{n}" for a, n in sorted(m.aliases.items())),
            m.description,
        ]
        for m in models
    ]
    return table(
        ["name", "versions", "latest", "aliases", "description"],
        rows,
        empty="No models registered yet.",
        value=list(models),
    )


def versions_table(versions: Sequence[ModelVersion]) -> Display:
    rows = [
        [v.version, v.flavor, ", ".join(v.aliases), metrics_text(dict(v.metrics))] for v in versions
    ]
    return table(
        ["version", "flavor", "aliases", "metrics"],
        rows,
        empty="No versions.",
        value=list(versions),
    )


def runs_table(runs: Sequence[Run], *, verbose: int = 1) -> Display:
    headers = ["name", "status", "metrics"] + (["id", "started"] if verbose >= 2 else [])
    rows = []
    for r in runs:
        row = [r.name, r.status, metrics_text(dict(r.metrics))]
        if verbose >= 2:
            row += [r.id, r.started_at.isoformat()]
        rows.append(row)
    return table(headers, rows, empty="No runs recorded.", value=list(runs))
