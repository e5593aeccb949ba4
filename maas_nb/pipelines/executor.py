"""Running a notebook as a reproducible pipeline: papermill, recorded in the registry.

The notebook runs on the current environment's Python (not whatever kernelspec the file
names), with parameters checked against its ``parameters`` cell. The registry records
the input notebook's digest, the parameters, the outcome (and on failure the cell, the
exception name and message), and stores the executed notebook as an artifact. Runs,
versions and deployments created inside the notebook carry the pipeline run's id in
their lineage (through ``MAAS_PIPELINE_RUN``); the kernel opens the registry the run is
recorded in (its environment names the home and the store URIs).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import api
from ..exceptions import ConfigurationError, PipelineFailedError
from ..registry import PipelineRun, Registry
from ..tables import format_failure

PIPELINE_ENV = "MAAS_PIPELINE_RUN"
KERNEL_NAME = "maas-current-python"


def declared_parameters(nb: Any) -> dict[str, str]:
    """Names assigned in the cell tagged ``parameters``, with their default's source."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            out = {}
            for node in tree.body:
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            out[target.id] = ast.get_source_segment(cell.source, node.value) or ""
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    value = node.value
                    segment = ast.get_source_segment(cell.source, value) if value else None
                    out[node.target.id] = segment or ""
            return out
    return {}


def check_parameters(notebook: str, nb: Any, parameters: Mapping[str, Any]) -> None:
    declared = declared_parameters(nb)
    unknown = [k for k in parameters if k not in declared]
    if unknown:
        listed = ", ".join(declared) or "none (it has no cell tagged 'parameters')"
        raise ConfigurationError(
            f"{notebook} does not declare the parameter(s) {', '.join(map(repr, unknown))}; "
            f"its parameters cell declares: {listed}."
        )


def run(
    notebook: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    raise_on_failure: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    registry: Registry | None = None,
) -> PipelineRun:
    """Execute *notebook* with *parameters* under papermill and record the run.

    A notebook that fails is recorded (with the failing cell); the returned run has
    ``status == "failed"``, or `PipelineFailedError` is raised with *raise_on_failure*.
    The run is recorded in *registry* (default: ``maas_nb.registry()``), which the
    notebook's kernel opens too.
    """
    path = Path(notebook)
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read the notebook {str(path)!r}: {exc.strerror}."
        ) from exc
    record = execute(
        source,
        str(path),
        parameters,
        name=name or path.stem,
        cwd=cwd if cwd is not None else path.parent,
        registry=registry,
    )
    if raise_on_failure and record.status == "failed":
        raise failure(record)
    return record


def execute(
    source: bytes,
    notebook: str,
    parameters: Mapping[str, Any] | None,
    *,
    name: str,
    cwd: str | os.PathLike[str],
    registry: Registry | None = None,
    rerun_of: str | None = None,
) -> PipelineRun:
    """Execute the notebook bytes *source*, recorded as the notebook at path *notebook*.

    These very bytes run (from a private copy), so the recorded digest is what ran even
    if the file changes meanwhile; `rerun` passes bytes recorded earlier and *rerun_of*.
    """
    import nbformat
    import papermill

    nb = nbformat.reads(source.decode("utf-8"), as_version=4)
    parameters = dict(parameters or {})
    check_parameters(notebook, nb, parameters)
    reg = registry if registry is not None else api.registry()
    record = reg.start_pipeline_run(
        name, notebook=notebook, source=source, parameters=parameters, rerun_of=rerun_of
    )
    error: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="maas-run-") as tmp:
        given = Path(tmp) / "input" / Path(notebook).name
        given.parent.mkdir()
        given.write_bytes(source)
        output = Path(tmp) / Path(notebook).name
        manager = _kernel_manager_class(Path(tmp), {PIPELINE_ENV: record.id, **reg.environment()})
        try:
            papermill.execute_notebook(
                str(given),
                str(output),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                kernel_manager_class=manager,
                cwd=os.fspath(cwd),
                progress_bar=False,
                log_output=False,
            )
            status = "finished"
        except papermill.PapermillExecutionError as exc:
            status = "failed"
            cell = _input_cell_index(output, exc.cell_index)
            error = {"cell": cell, "exception": exc.ename, "message": exc.evalue}
        except Exception as exc:  # kernel died, bad notebook...: still recorded
            status = "failed"
            error = {"cell": None, "exception": type(exc).__name__, "message": str(exc)}
        executed = output.read_bytes() if output.exists() else None
    return reg.end_pipeline_run(record.id, status=status, output=executed, error=error)


def _input_cell_index(executed: Path, index: int) -> int:
    """The failing cell's index in the input notebook (papermill inserted a cell before
    it when it injected parameters)."""
    import nbformat

    try:
        cells = nbformat.read(executed, 4).cells
    except Exception:
        return index
    injected = [
        i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])
    ]
    return index - 1 if injected and injected[0] < index else index


def failure(record: PipelineRun) -> PipelineFailedError:
    return PipelineFailedError(
        f"{record.notebook} failed in {format_failure(record.error)} "
        f"(pipeline run {record.id[:12]}; see it with: maas runs show {record.id[:12]} "
        f"(in a notebook: %maas runs show {record.id[:12]}))"
    )


def run_in_thread(*args: Any, **kwargs: Any) -> Any:
    """`run` (or a callable given alone) on a fresh thread: papermill needs an event loop
    of its own, and a notebook kernel's thread already runs one (``%maas run``)."""
    result: dict[str, Any] = {}
    call = args[0] if len(args) == 1 and callable(args[0]) and not kwargs else None

    def target() -> None:
        try:
            result["run"] = call() if call is not None else run(*args, **kwargs)
        except BaseException as exc:
            result["error"] = exc
        finally:
            _close_thread_loop()

    thread = threading.Thread(target=target, name="maas-pipeline")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["run"]


def _close_thread_loop() -> None:
    """Close the event loop papermill (through jupyter_core) made for this thread."""
    try:
        from jupyter_core import utils

        loop = utils._loop.get()
    except (ImportError, AttributeError, LookupError):
        return
    if loop is not None and not loop.is_closed():
        loop.close()


def _kernel_manager_class(root: Path, env: dict[str, str]) -> type:
    """A kernel manager class for this very interpreter (``sys.executable``), with *env*
    set; the notebook's own kernelspec name is ignored. (A class, not an instance, so that
    papermill owns the kernel and shuts it down.)"""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "maas_nb (current Python)",
        "language": "python",
        "env": {**env, "MAAS_PROGRESS": "lines"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(root / "kernels")], ensure_native_kernel=False)

    class CurrentPythonKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(kernel_spec_manager=specs, **kwargs)

    return CurrentPythonKernelManager
