"""Parameter sweeps: one pipeline run per grid point, several kernels (processes) at a time,
on this machine (the ``local`` executor) or as Ray tasks (``ray``, `ray_sweep`).

A failing run does not stop the others. The result is a table of parameters x metrics
(a DataFrame, with an HTML repr in notebooks) with the best run marked; ``alias_best``
points an alias at the version the best run registered.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import api
from ..exceptions import ConfigurationError, PipelineError
from ..registry import ModelVersion, PipelineRun, Registry
from . import lineage
from .executor import check_parameters

#: Metrics where lower is better; any other metric is maximised.
LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "rmse", "log_loss")


@dataclass
class SweepResult:
    runs: list[PipelineRun]
    table: Any  # pandas.DataFrame: one row per run
    metric: str | None
    best: PipelineRun | None
    best_version: ModelVersion | None
    parameters: tuple[str, ...] = ()  # the grid's keys, in its order

    def __repr__(self) -> str:
        columns = [c for c in self.table.columns if c != "run"]
        return self.table[columns].to_string(index=False)

    def _repr_html_(self) -> str:
        columns = [c for c in self.table.columns if c != "run"]
        return self.table[columns].to_html(index=False) + self.chart_html()

    def chart_html(self) -> str:
        """The metric (the one the best run was chosen by, else the first recorded)
        against each parameter, the best run starred; "" when no run recorded one."""
        from .. import charts

        metric = self.metric or next(iter(self.metrics()), None)
        if metric is None:
            return ""
        rows = self.table.to_dict(orient="records")
        best = next((i for i, row in enumerate(rows) if bool(row.get("best", False))), None)
        svg = charts.sweep_svg(rows, self.parameters, metric, best=best)
        return charts.figure_html(svg)

    def metrics(self) -> list[str]:
        """The metric columns of the table: neither a parameter nor the run's own facts."""
        facts = {*self.parameters, "status", "versions", "run", "best"}
        return [c for c in self.table.columns if c not in facts]


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    if not grid:
        raise ConfigurationError("A sweep needs at least one parameter with a list of values.")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigurationError(
                f"Sweep parameter {key!r} needs a non-empty list of values, got {values!r}."
            )
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def sweep(
    notebook: str | os.PathLike[str],
    grid: Mapping[str, Sequence[Any]],
    *,
    parallel: int = 2,
    metric: str | None = None,
    alias_best: str | None = None,
    progress: bool = True,
    registry: Registry | None = None,
    executor: str = "local",
) -> SweepResult:
    """Run *notebook* once per point of *grid*, *parallel* at a time, recorded in
    *registry* (default: ``maas_nb.registry()``).

    *executor* ``"local"`` runs the points in worker processes here; ``"ray"`` runs them
    as Ray tasks on ``$MAAS_RAY_ADDRESS`` / ``$RAY_ADDRESS`` (else a local Ray cluster),
    ``"ray://HOST:PORT"`` on that cluster (`maas_nb.pipelines.ray_sweep`).

    The table has a row per run: its parameters, metrics, status and the versions it
    registered (``versions``).
    """
    import nbformat

    points = grid_points(grid)
    nb = nbformat.read(os.fspath(notebook), as_version=4)
    check_parameters(os.fspath(notebook), nb, points[0])
    if alias_best is not None and metric is None:
        raise ConfigurationError("alias_best needs a metric to choose the best run by.")
    reg = registry if registry is not None else api.registry()
    if executor == "local":
        runs = _execute(os.fspath(notebook), points, max(1, parallel), progress, reg)
    else:
        from . import ray_sweep

        if not ray_sweep.is_ray(executor):
            raise ConfigurationError(
                f"Unknown sweep executor {executor!r}; use 'local' (processes on this "
                "machine), 'ray' (RAY_ADDRESS / MAAS_RAY_ADDRESS, else a local Ray cluster) "
                "or 'ray://HOST:PORT'."
            )
        modules = ray_sweep.notebook_imports(nb)
        runs = ray_sweep.execute(
            os.fspath(notebook), points, max(1, parallel), progress, reg, executor, modules
        )
    rows = []
    made = reg.versions_made_by(r.id for r in runs)
    for point, record in zip(points, runs, strict=True):
        metrics = lineage.metrics(reg, record.id)
        uris = lineage.version_uris(made.get(record.id, []))
        rows.append(
            {**point, **metrics, "status": record.status, "versions": uris, "run": record.id}
        )
    import pandas as pd

    table = pd.DataFrame(rows)
    best = best_version = None
    if metric is not None:
        finished = table[(table["status"] == "finished")]
        if metric not in table.columns or finished[metric].isna().all():
            recorded = [c for c in table.columns if c not in (*grid, "status", "versions", "run")]
            raise PipelineError(
                f"No finished run recorded the metric {metric!r}; recorded: "
                f"{', '.join(recorded) or 'none'}."
            )
        lower = metric.lower().endswith(LOWER_IS_BETTER)
        index = finished[metric].idxmin() if lower else finished[metric].idxmax()
        table["best"] = table.index == index
        best = runs[index]
        best_made = made.get(best.id, [])
        best_version = best_made[-1] if best_made else None
        if alias_best is not None:
            if best_version is None:
                raise PipelineError(
                    f"The best run ({best.id[:12]}) registered no model version, so alias "
                    f"{alias_best!r} cannot point at it; register in the notebook."
                )
            best_version = reg.set_alias(best_version.uri, alias_best)
    return SweepResult(runs, table, metric, best, best_version, tuple(grid))


def _execute(
    notebook: str, points: list[dict[str, Any]], parallel: int, progress: bool, reg: Registry
) -> list[PipelineRun]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(points), desc=f"sweep {os.path.basename(notebook)}", disable=not progress)
    results: list[PipelineRun | None] = [None] * len(points)
    # Each point runs in a worker process of its own (which drives the notebook's kernel);
    # these threads only wait for the workers.
    with concurrent.futures.ThreadPoolExecutor(parallel, thread_name_prefix="maas-sweep") as pool:
        futures = {pool.submit(_run_one, notebook, p, reg): i for i, p in enumerate(points)}
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(1)
    bar.close()
    return [r for r in results if r is not None]


def _run_one(notebook: str, parameters: dict[str, Any], reg: Registry) -> PipelineRun:
    worker = subprocess.run(
        [sys.executable, "-m", "maas_nb.pipelines.worker", notebook, json.dumps(parameters)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **reg.environment()},  # the worker records in this same registry
    )
    lines = worker.stdout.strip().splitlines()
    if worker.returncode != 0 or not lines:
        raise PipelineError(
            f"The sweep worker for {parameters} exited with status {worker.returncode}:\n"
            f"{worker.stderr.strip()[-2000:]}"
        )
    return reg.get_pipeline_run(lines[-1])
