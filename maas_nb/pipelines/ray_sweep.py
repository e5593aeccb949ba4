"""Sweeps on Ray (``executor="ray"`` or ``"ray://HOST:PORT"``): one Ray task per grid point.

Each task executes the notebook with papermill (`executor.execute`, the same code the local
executor's worker runs) and records the pipeline run in the registry, so runs, lineage,
the result table, ``best`` and ``alias_best`` are those of a local sweep. What a task needs
travels with it in a Ray ``runtime_env``: the notebook's directory as ``working_dir``
(modules and data files next to the notebook) and the registry settings as ``env_vars``
(``Registry.environment()`` and ``MAAS_USER``). The nodes must reach that registry: on one
machine the local registry does; a cluster needs a shared one (PostgreSQL + S3).

Before any point runs, a pre-flight task in that same ``runtime_env`` checks that a worker
can import maas_nb, papermill, ipykernel (the notebook's kernel) and every module the
notebook imports at the top level of a cell; a missing one fails the sweep at once with
`WorkerEnvironmentError` instead of once per point, in the middle of the cells.

The cluster: ``ray://HOST:PORT`` connects with Ray Client; ``ray`` uses
``$MAAS_RAY_ADDRESS`` if set, else Ray's own default (``$RAY_ADDRESS``, else a local
cluster started for the sweep and stopped after it). Ray is imported only here, on use.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import config
from ..exceptions import (
    ConfigurationError,
    MissingDependencyError,
    PipelineError,
    WorkerEnvironmentError,
)
from ..registry import PipelineRun, Registry

ADDRESS_ENV = config.RAY_ADDRESS_ENV
INSTALL = "pip install 'maas_nb[ray]'"
#: What every worker imports to run a point, whatever the notebook does.
NEEDED = ("maas_nb", "papermill", "ipykernel")


def is_ray(executor: str) -> bool:
    return executor == "ray" or executor.startswith("ray://")


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            f"The ray sweep executor needs Ray, which is not installed ({exc}). "
            f"Install it with: {INSTALL}"
        ) from exc
    return ray


def cluster_address(executor: str) -> str | None:
    """The address given to ``ray.init`` (None: Ray's default)."""
    if executor.startswith("ray://"):
        return executor
    return os.environ.get(ADDRESS_ENV, "").strip() or None


def notebook_imports(nb: Any) -> list[str]:
    """Top-level modules the notebook imports at the top level of its code cells (imports
    inside ``try``/``if`` are optional by design and not checked)."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    names: dict[str, None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(transform(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.update(dict.fromkeys(a.name.split(".")[0] for a in node.names))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names[node.module.split(".")[0]] = None
    return list(names)


def runtime_env(notebook: str, reg: Registry) -> dict[str, Any]:
    return {
        "working_dir": str(Path(notebook).resolve().parent),
        "env_vars": {**reg.environment(), config.USER_ENV: config.user()},
    }


def execute(
    notebook: str,
    points: list[dict[str, Any]],
    parallel: int,
    progress: bool,
    reg: Registry,
    executor: str,
    modules: list[str],
) -> list[PipelineRun]:
    """Run every point as a Ray task, at most *parallel* at a time; the runs in order."""
    ray = import_ray()
    address = cluster_address(executor)
    if ray.is_initialized():
        # A directory can be shipped only with the connection (Ray's job-level runtime_env).
        raise ConfigurationError(
            "Ray is already initialized in this process, so the sweep cannot ship the "
            "notebook's directory with its own connection; got ray.is_initialized() True. "
            "Fix: call ray.shutdown() first (the sweep connects, then disconnects)."
        )
    env = runtime_env(notebook, reg)  # (ray.init replaces its working_dir by a URI: a copy)
    try:
        ray.init(
            address=address, runtime_env=dict(env), log_to_driver=False, logging_level="WARNING"
        )
    except Exception as exc:
        raise ConfigurationError(
            f"Cannot connect to the Ray cluster at {address or 'RAY_ADDRESS / local'}: "
            f"{type(exc).__name__}: {exc}. Start one with 'ray start --head' and give "
            f"its address (--executor ray://HOST:10001, or RAY_ADDRESS / {ADDRESS_ENV}), "
            "or unset them to start a local cluster."
        ) from exc
    try:
        preflight(ray, notebook, env["working_dir"], modules)
        return _run_points(ray, notebook, points, parallel, progress, reg)
    finally:
        ray.shutdown()


def preflight(ray: Any, notebook: str, working_dir: str, modules: list[str]) -> None:
    """Fail at once, with what to do, when a worker cannot import what the points need."""
    task = ray.remote(num_cpus=0)(_check_imports)
    wanted = list(dict.fromkeys([*NEEDED, *modules]))
    try:
        found = ray.get(task.remote(wanted), timeout=300)
    except Exception as exc:  # the worker could not even start or unpickle the check
        raise WorkerEnvironmentError(
            f"A Ray worker could not run the sweep's import check for {notebook} "
            f"({type(exc).__name__}: {str(exc)[-1500:]}). Install maas_nb and papermill on "
            f"the cluster's nodes ({INSTALL} in the Python that runs 'ray start')."
        ) from exc
    missing = found["missing"]
    if missing:
        ours = [m for m in missing if m in NEEDED]
        fix = (
            f"install them on every node, in the Python that runs 'ray start' ({INSTALL}, "
            "pip install papermill ipykernel)"
            if ours
            else f"put the module(s) next to the notebook (its directory "
            f"{working_dir} is shipped to the workers), or install them on every "
            "node, in the Python that runs 'ray start'"
        )
        raise WorkerEnvironmentError(
            f"Ray workers cannot import {', '.join(map(repr, missing))}, needed by "
            f"{notebook}; got a worker on {found['node']} running {found['python']} in "
            f"{found['cwd']}. Fix: {fix}."
        )


def _check_imports(modules: list[str]) -> dict[str, Any]:
    """On a worker: which of *modules* cannot be found (nothing is imported)."""
    import importlib.util
    import platform
    import sys

    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return {
        "missing": missing,
        "python": sys.executable,
        "cwd": os.getcwd(),
        "node": platform.node(),
    }


def _run_point(source: bytes, notebook: str, parameters: Mapping[str, Any]) -> str:
    """On a worker: execute one point (recorded in the registry of the task's env)."""
    from .executor import execute as execute_notebook
    from .executor import run_in_thread

    record = run_in_thread(
        lambda: execute_notebook(
            source, notebook, parameters, name=Path(notebook).stem, cwd=os.getcwd()
        )
    )
    return str(record.id)


def _run_points(
    ray: Any,
    notebook: str,
    points: list[dict[str, Any]],
    parallel: int,
    progress: bool,
    reg: Registry,
) -> list[PipelineRun]:
    from tqdm.auto import tqdm

    source = Path(notebook).read_bytes()
    source_ref = ray.put(source)
    task = ray.remote(num_cpus=1, max_retries=0)(_run_point)
    bar = tqdm(total=len(points), desc=f"sweep {os.path.basename(notebook)}", disable=not progress)
    results: list[PipelineRun | None] = [None] * len(points)
    waiting = list(enumerate(points))
    running: dict[Any, int] = {}
    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                index, point = waiting.pop(0)
                running[task.remote(source_ref, notebook, point)] = index
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                index = running.pop(ref)
                try:
                    run_id = ray.get(ref)
                except Exception as exc:
                    raise PipelineError(
                        f"The Ray task for {points[index]} failed outside the notebook "
                        f"({type(exc).__name__}): {str(exc)[-2000:]}"
                    ) from exc
                results[index] = reg.get_pipeline_run(run_id)
                bar.update(1)
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        bar.close()
    return [r for r in results if r is not None]
