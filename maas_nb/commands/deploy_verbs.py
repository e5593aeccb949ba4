"""The verbs about serving: deploy, undeploy, deployments, predict, server."""

from __future__ import annotations

import argparse
import html
import json
import warnings
from typing import Any

from ..deploying import api, live, scaling, targets
from ..deploying.batching import add_arguments as add_batching_arguments
from ..deploying.splits import describe_split
from ..deploying.targets import TARGET_ENV
from ..registry import to_dict
from ..serving.limits import add_arguments as add_limit_arguments
from ..serving.limits import from_arguments
from ..serving.server import read_server_file
from . import listing
from .command import Command, Context
from .result import Column, Field, Result, Text, card, table

#: How a deployment meant for any server reading the registry shows its server.
ANY_SERVER = "(any)"


def deploy(ctx: Context, args: argparse.Namespace) -> Result:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dep = api.deploy(
            args.uri,
            name=args.name,
            max_batch_size=args.max_batch_size,
            max_latency_ms=args.max_latency_ms,
            max_queue_rows=args.max_queue_rows,
            home=ctx.home,
            limits=from_arguments(args),
            target=args.target,
            workers=args.workers,
            log_sample=args.log_sample,
            log_max_bytes=args.log_max_bytes,
            **scaling.from_arguments(args),
        )
    info = dep.describe()
    own = bool(dep.config.get(targets.OWN_TARGET))  # a target running replicas (ray)
    # The URL is in every form: a caller needs it, and it is not always on port 8765
    # (the server takes a free port when that one is taken: a note says so).
    view = card(
        f"Deployment {dep.name}",
        [
            ("target", dep.target),
            Field("server", dep.server_name or ANY_SERVER, detail=True),  # user and host
            ("version", info.get("version")),
            ("status", info.get("status")),
            ("where", dep.deploy_target if own else None),
            ("replicas", scaling.wanted(dep.config) if own else None),
            ("url", dep.url if dep.server else None),
            Field("curl", dep.curl(), detail=True),
        ],
    )
    return Result(
        "deploy",
        _deployment_dict(dep, info),
        view,
        dep,
        notes=tuple(str(w.message) for w in caught),
        html_extra=dep._repr_html_(),
    )


def undeploy(ctx: Context, args: argparse.Namespace) -> Result:
    record = api.undeploy(args.name, home=ctx.home, target=args.target)
    view = Text(
        f"Undeployed {record.name} ({record.target})",
        f"Undeployed <code>{html.escape(record.name)}</code>",
    )
    return Result("undeploy", to_dict(record), view, record)


def deployments(ctx: Context, args: argparse.Namespace) -> Result:
    deps = api.deployments(home=ctx.home, user=listing.who(args))
    view = live.live_view(home=ctx.home) or {}
    notes = tuple(
        # The registry still says what is deployed; only the live state is missing.
        f"{message} Showing the registry's deployments only."
        if spec == view.get("deploy_target")
        else f"{message} Its deployments show as unknown."
        for spec, message in view.get("problems", {}).items()
    )
    entries = {e["name"]: e for e in view.get("deployments", [])}
    infos = [d.describe() if d.elsewhere else _live(d, entries) for d in deps]
    notes += tuple(
        f"Deployment {d.name}: {_rolled_back(info)['reason']} (the server's guard, at "
        f"generation {_rolled_back(info)['generation']}). Make it last with "
        f"{ctx.says('rollback')} {d.name}, or set a new split."
        for d, info in zip(deps, infos, strict=True)
        if _rolled_back(info)
    )
    # A split shows as "production=90 candidate=10", in a column there only when one is.
    split = any(d.config.get("traffic") for d in deps)
    rows = [
        [
            d.name,
            d.target,
            *([_split_text(d.config, info)] if split else []),
            d.server_name or ANY_SERVER,
            info.get("version") or "-",
            info.get("status"),
            d.deploy_target,
            live.replicas_text(info),
            d.created_by or "-",
            d.url if d.server else "-",
        ]
        for d, info in zip(deps, infos, strict=True)
    ]
    shown = table(
        [
            "name",
            "target",
            *(["traffic"] if split else []),
            Column("server", detail=True),  # its user and host: not in a magic's stable form
            "version",
            "status",
            "where",
            "replicas",
            "by",
            Column("url", detail=True),
        ],
        rows,
        empty=(
            f"No deployments{listing.matching(args)}."
            if listing.who(args)
            else f"No deployments. Deploy a model with: {ctx.says('deploy NAME@ALIAS')}"
        ),
    )
    data = [_deployment_dict(d, info) for d, info in zip(deps, infos, strict=True)]
    return Result("deployments", data, shown, deps, notes=notes)


def _rolled_back(info: dict[str, Any]) -> dict[str, Any]:
    """The guard's state of a live entry when it rolled the split back ({} otherwise)."""
    guard = info.get("guard") or {}
    return guard if guard.get("state") == "rolled_back" else {}


def _split_text(config: Any, info: dict[str, Any]) -> str:
    """The registry's split, and what the server's guard made of it."""
    text = describe_split(config) or "-"
    guard = _rolled_back(info)
    return f"{text} (rolled back: {guard['version']})" if guard else text


def _live(dep: Any, entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Deployment *dep* as its target's live view says (``stopped``: no server runs it)."""
    return live.with_replicas(entries.get(dep.name) or {"status": "stopped"}, dep.config)


def predict(ctx: Context, args: argparse.Namespace) -> Result:
    if not args.input:
        raise ctx.usage(
            f"{ctx.says('predict')} {args.name} needs an input after the deployment name: "
            f"{ctx.says('predict')} {args.name} {ctx.input_example}."
        )
    X = ctx.read_input(args.input)
    predictions = api.get_deployment(args.name, home=ctx.home).predict(X)
    data = predictions.tolist()
    view = Text(json.dumps(data))
    return Result("predict", data, view, predictions, returns_value=True)


def server(ctx: Context, args: argparse.Namespace) -> Result:
    """The local server of this home (the ``local`` deploy target's process)."""
    if args.action == "stop":
        pid = api.stop_server(home=ctx.home, target="local")
        text = f"Stopped the server (pid {pid})" if pid else "No server is running for this home."
        return Result("server", {"stopped": pid}, Text(text), pid)
    info = read_server_file(ctx.home)
    data: dict[str, Any] = {"running": info is not None, **(info or {})}
    text = f"Running: {info['url']} (pid {info['pid']})" if info else "No server is running."
    return Result("server", data, Text(text), info)


def _deployment_dict(dep: Any, info: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": dep.name,
        "target": dep.target,
        "server": dep.server_name,
        "url": dep.url,
        "created_by": dep.created_by,
        "status": info.get("status", "stopped"),
        "version": info.get("version"),
        "deploy_target": dep.deploy_target,
        "config": dep.config,
        # What the target adds: why it is not ready, the Ray Serve replicas running, the
        # number Serve aims at now, and the count or range asked for ("2", "1-3").
        **{k: info.get(k) for k in ("reason", "replicas", "replicas_wanted", "scaling")},
        # What a maas_nb server adds: the traffic generation it serves, its arms, a shadow.
        **{k: info[k] for k in ("generation", "arms", "shadow", "guard") if k in info},
    }


def _declare_deploy(p: argparse.ArgumentParser) -> None:
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
    scaling.add_arguments(p)
    add_limit_arguments(p, "connection limits of the server deploy starts, if none runs")
    p.add_argument(
        "--log-sample",
        type=float,
        default=None,
        metavar="FRACTION",
        help="log this fraction of requests (0.01: 1%%) for `predictions` and `drift`",
    )
    p.add_argument(
        "--log-max-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="the prediction log's size limit; the oldest files go first (default 64 MiB)",
    )


def _declare_name(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")


def _declare_undeploy(p: argparse.ArgumentParser) -> None:
    _declare_name(p)
    p.add_argument(
        "--target",
        default=None,
        help=f"the target whose server to tell now (default ${TARGET_ENV}, else local); "
        "the deployment's own server unloads it at its next poll in any case",
    )


def _declare_server(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["status", "stop"])


COMMANDS = [
    Command(
        "deploy",
        "serve a version or alias over HTTP, starting a server if needed",
        _declare_deploy,
        deploy,
    ),
    Command("undeploy", "stop serving a deployment", _declare_undeploy, undeploy),
    Command("deployments", "list deployments and their status", listing.add_who, deployments),
    Command(
        "predict",
        "call a deployment over HTTP with an input: predict NAME INPUT",
        _declare_name,
        predict,
        takes_input=True,
    ),
    Command(
        "server", "status of, or stop, this home's local model server", _declare_server, server
    ),
]
