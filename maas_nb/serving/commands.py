"""The ``maas`` commands about serving: serve, deploy, undeploy, deployments, server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ..exceptions import ConfigurationError, ServerUnavailableError
from ..registry import Registry, to_dict
from ..tables import text_table
from .client import deploy, deployments, server_states, stop_server, undeploy
from .limits import add_arguments as add_limit_arguments
from .limits import from_arguments
from .server import TOKEN_ENV, read_server_file, read_token_file, serve


def cmd_serve(reg: Registry, args: argparse.Namespace) -> Any:
    if args.token is not None:
        raise ConfigurationError(
            "maas serve --token would show the token to every user of this machine in the "
            f"process list; set {TOKEN_ENV} or pass --token-file PATH (a file only you can "
            "read) instead."
        )
    serve(
        reg.home,
        host=args.host,
        port=args.port,
        token=read_token_file(args.token_file) if args.token_file else None,
        max_body=args.max_body,
        log_level=args.log_level,
        port_fallback=args.port_fallback,
        limits=from_arguments(args),
    )
    return None


def cmd_deploy(reg: Registry, args: argparse.Namespace) -> Any:
    dep = deploy(
        args.uri,
        name=args.name,
        max_batch_size=args.max_batch_size,
        max_latency_ms=args.max_latency_ms,
        home=str(reg.home),
        limits=from_arguments(args),
    )
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


def add_serving_commands(add: Callable[[str, Callable, str], argparse.ArgumentParser]) -> None:
    """Declare the serving commands with the CLI's *add(name, func, help)*."""
    p = add("serve", cmd_serve, "run the model server for this registry home")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default $MAAS_PORT or 8765")
    p.add_argument(
        "--token-file",
        default=None,
        metavar="PATH",
        help="read the bearer token from PATH, a file only you can read (default $MAAS_TOKEN)",
    )
    p.add_argument("--token", default=None, help=argparse.SUPPRESS)  # refused: see cmd_serve
    p.add_argument(
        "--max-body", type=int, default=None, help="largest request body in bytes (16 MiB)"
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--port-fallback", action="store_true", help=argparse.SUPPRESS)
    add_limit_arguments(p, "connection limits")
    p = add("deploy", cmd_deploy, "serve a model version or alias, starting a server if needed")
    p.add_argument("uri", help="iris, iris:3 or iris@production")
    p.add_argument("--name", default=None, help="deployment name (default: the model name)")
    p.add_argument("--max-batch-size", type=int, default=64)
    p.add_argument("--max-latency-ms", type=float, default=5.0)
    add_limit_arguments(p, "connection limits of the server deploy starts, if none runs")
    add("undeploy", cmd_undeploy, "stop serving a deployment").add_argument("name")
    add("deployments", cmd_deployments, "list deployments and their status")
    p = add("server", cmd_server, "status of, or stop, this home's model server")
    p.add_argument("action", choices=["status", "stop"])
