"""The ``maas`` commands about deploying: deploy, undeploy, deployments, server."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from ..exceptions import ServerUnavailableError
from ..registry import Registry, to_dict
from ..serving.limits import add_arguments as add_limit_arguments
from ..serving.limits import from_arguments
from ..serving.server import read_server_file
from ..tables import text_table
from .api import deploy, deployments, server_states, stop_server, undeploy
from .batching import add_arguments as add_batching_arguments
from .targets import TARGET_ENV


def cmd_deploy(reg: Registry, args: argparse.Namespace) -> Any:
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        dep = deploy(
            args.uri,
            name=args.name,
            max_batch_size=args.max_batch_size,
            max_latency_ms=args.max_latency_ms,
            max_queue_rows=args.max_queue_rows,
            home=str(reg.home),
            limits=from_arguments(args),
            target=args.target,
            workers=args.workers,
        )
    for note in notes:  # a port fallback, limits a running server keeps: one line each
        print(f"maas: note: {note.message}", file=sys.stderr)
    if args.json:
        return _deployment_dict(dep)
    return f"Deployed {dep.target} as {dep.name!r}: {dep.url}\n{dep.curl()}"


def cmd_undeploy(reg: Registry, args: argparse.Namespace) -> Any:
    record = undeploy(args.name, home=str(reg.home))
    if args.json:
        return to_dict(record)
    return f"Undeployed {record.name!r} ({record.target})"


def cmd_deployments(reg: Registry, args: argparse.Namespace) -> Any:
    deps = deployments(home=str(reg.home))
    try:
        states = server_states(home=str(reg.home)) or {}
        unknown = "stopped"
    except ServerUnavailableError as exc:
        # The registry still says what is deployed; only the live state is missing.
        print(f"maas: note: {exc} Showing the registry's deployments only.", file=sys.stderr)
        states, unknown = {}, "unknown"
    if args.json:
        return [_deployment_dict(d, states.get(d.name, {"status": unknown})) for d in deps]
    rows = []
    for d in deps:
        info = states.get(d.name, {"status": unknown})
        version = info.get("version")
        rows.append(
            [
                d.name,
                d.target,
                version or "-",
                info.get("status", "stopped"),
                d.url if d.server else "-",
            ]
        )
    return text_table(
        ["NAME", "TARGET", "VERSION", "STATUS", "URL"],
        rows,
        empty="No deployments. Deploy a model with: maas deploy NAME@ALIAS",
    )


def cmd_server(reg: Registry, args: argparse.Namespace) -> Any:
    if args.action == "stop":
        pid = stop_server(home=str(reg.home))
        result = {"stopped": pid}
        text = f"Stopped the server (pid {pid})" if pid else "No server is running for this home."
    else:
        info = read_server_file(reg.home)
        result = {"running": info is not None, **(info or {})}
        text = f"Running: {info['url']} (pid {info['pid']})" if info else "No server is running."
    return result if args.json else text


def _deployment_dict(dep: Any, info: dict[str, Any] | None = None) -> dict[str, Any]:
    info = dep.describe() if info is None else info
    return {
        "name": dep.name,
        "target": dep.target,
        "url": dep.url,
        "status": info.get("status", "stopped"),
        "version": info.get("version"),
        "config": dep.config,
    }


def add_deploy_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    """Declare the deploy commands with the CLI's *add(name, func, help)*."""
    p = add("deploy", cmd_deploy, "serve a model version or alias, starting a server if needed")
    p.add_argument("uri", help="iris, iris:3 or iris@production")
    p.add_argument("--name", default=None, help="deployment name (default: the model name)")
    add_batching_arguments(p)
    p.add_argument(
        "--target",
        default=None,
        help=f"where to deploy: a name or URI (default ${TARGET_ENV}, else local)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="server processes of the server deploy starts, if none runs (default 1)",
    )
    add_limit_arguments(p, "connection limits of the server deploy starts, if none runs")
    add("undeploy", cmd_undeploy, "stop serving a deployment").add_argument("name")
    add("deployments", cmd_deployments, "list deployments and their status")
    p = add("server", cmd_server, "status of, or stop, this home's model server")
    p.add_argument("action", choices=["status", "stop"])
