"""The server's command line: ``maas serve`` and ``python -m maas_nb.serving``.

Both read the same arguments, declared here once; a user mistake prints one line,
``maas: error: ...``, and exits 1, as every ``maas`` command does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import SERVER_NAME_ENV
from ..exceptions import ConfigurationError, MaasError
from .limits import add_arguments as add_limit_arguments
from .limits import from_arguments
from .server import TOKEN_ENV, WORKER_OF, read_token_file, serve, serve_worker


def run_serve(home: str | Path | None, args: argparse.Namespace) -> None:
    """Serve the registry at *home* as the parsed *args* say, until SIGTERM."""
    if args.token is not None:
        raise ConfigurationError(
            "maas serve --token would show the token to every user of this machine in the "
            f"process list; set {TOKEN_ENV} or pass --token-file PATH (a file only you can "
            "read) instead."
        )
    if args.worker_of is not None:
        serve_worker(
            home,
            supervisor=args.worker_of,
            fd=args.listen_fd,
            port=args.port,
            index=args.worker_index,
            host=args.host,
            max_body=args.max_body,
            log_level=args.log_level,
            limits=from_arguments(args),
            name=args.name,
        )
        return
    serve(
        home,
        host=args.host,
        port=args.port,
        token=read_token_file(args.token_file) if args.token_file else None,
        max_body=args.max_body,
        log_level=args.log_level,
        port_fallback=args.port_fallback,
        limits=from_arguments(args),
        workers=args.workers,
        name=args.name,
    )


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the server's options on *p*."""
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--name",
        default=None,
        help="this server's name: it serves the deployments made for it and those made for "
        f"any server (default ${SERVER_NAME_ENV}, else USER-HOSTNAME)",
    )
    p.add_argument("--port", type=int, default=None, help="default $MAAS_PORT or 8765")
    p.add_argument(
        "--token-file",
        default=None,
        metavar="PATH",
        help="read the bearer token from PATH, a file only you can read (default $MAAS_TOKEN)",
    )
    p.add_argument("--token", default=None, help=argparse.SUPPRESS)  # refused: see run_serve
    p.add_argument(
        "--max-body", type=int, default=None, help="largest request body in bytes (16 MiB)"
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port, each with its own models (default 1)",
    )
    p.add_argument("--port-fallback", action="store_true", help=argparse.SUPPRESS)
    # How the supervisor of --workers N starts each worker: not for people.
    p.add_argument(WORKER_OF, type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    add_limit_arguments(p, "connection limits")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m maas_nb.serving``: the same as ``maas serve``."""
    parser = argparse.ArgumentParser(
        prog="python -m maas_nb.serving", description="Run the model server for a registry home."
    )
    parser.add_argument("--home", default=None, help="registry home (default: $MAAS_HOME)")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run_serve(args.home, args)
    except MaasError as exc:
        print(f"maas: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
