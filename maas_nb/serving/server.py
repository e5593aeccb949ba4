"""Running the model server: one uvicorn process per registry home, on 127.0.0.1 by default.

The server records its pid and address in ``<home>/server.json`` (never the token) so
that `deploy` and ``maas server stop`` can find it. SIGTERM stops it gracefully: it
stops accepting connections, finishes the requests in flight, and exits 0. It stops the
same way, saying why in its log, when its registry home is deleted.

With ``--workers N`` the recorded pid is a supervisor's, and N worker processes serve
on its socket (`maas_nb.serving.supervisor`): stopping it stops them all.

The token comes from ``$MAAS_TOKEN`` or a file (``--token-file``), never from the
command line, where every user of the machine could read it in the process list.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import logging
import os
import signal
import socket
import stat
import sys
from pathlib import Path
from typing import Any

from ..config import environment, home_dir, server_name
from ..exceptions import ConfigurationError, ServerUnavailableError
from ..processes import pid_alive
from .limits import ConnectionLimits

SERVER_FILE = "server.json"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
TOKEN_ENV = "MAAS_TOKEN"  # noqa: S105 - the variable's name, not a token
PORT_ENV = "MAAS_PORT"
#: How a worker is told its supervisor's pid (the option is hidden from --help).
WORKER_OF = "--worker-of"
#: Whether the kernel balances connections over sockets sharing a port (Linux does).
REUSE_PORT = hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_file(home: Path) -> Path:
    return home / SERVER_FILE


def bind(
    host: str, port: int, *, fallback: bool, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """A listening socket on *host*:*port*; with *fallback*, any free port if that one is taken.

    With *reuse_port*, other sockets of this user may bind the port too (``SO_REUSEPORT``);
    without *listen*, the socket only holds the port (the kernel hands connections to
    listening sockets only)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in (port, 0) if fallback else (port,):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and candidate != 0 and fallback:
                continue
            raise ServerUnavailableError(
                f"Cannot listen on {host}:{candidate}: {exc.strerror}. Choose another --port."
            ) from exc
        if listen:
            sock.listen(2048)
        sock.set_inheritable(True)
        return sock
    raise AssertionError("unreachable")


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token in *path*, stripped; the file must be private to its owner (like ssh keys)."""
    try:
        mode = os.stat(path).st_mode
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigurationError(f"Cannot read the token file '{path}': {reason}.") from exc
    if mode & 0o077:
        raise ConfigurationError(
            f"The token file '{path}' is accessible to other users (mode "
            f"{stat.S_IMODE(mode):04o}): anyone who can read it can call your models. "
            f"Make it private with: chmod 600 '{path}'"
        )
    return check_token(text, f"The token file '{path}'")


def check_token(token: str, source: str) -> str:
    """*token* if it is one token (printable, no spaces), whichever *source* gave it."""
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        raise ConfigurationError(
            f"{source} must hold one token: printable characters without spaces, on one line."
        )
    return token


def check_port(port: int, source: str) -> int:
    """*port* if a TCP port (0 to 65535, 0 for any free one), else a `ConfigurationError`."""
    if not 0 <= port <= 65535:
        raise ConfigurationError(
            f"{source} is {port}; a TCP port is a number from 0 to 65535 (0 picks a free one)."
        )
    return port


def serve(
    home: str | os.PathLike[str] | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    token: str | None = None,
    max_body: int | None = None,
    poll_interval: float = 0.5,
    log_level: str = "info",
    port_fallback: bool = False,
    limits: ConnectionLimits | None = None,
    workers: int = 1,
    name: str | None = None,
) -> None:
    """Serve the deployments of the registry at *home* until SIGTERM or SIGINT.

    The server is called *name* (default `maas_nb.config.server_name`): it serves the
    deployments meant for it and those meant for any server. With *workers* above 1,
    that many processes share the port (see `supervisor`), all with that name."""
    from ..registry import Registry
    from ..registry.uri import validate_name
    from .limits import fit_open_files

    name = validate_name(server_name(name), kind="server name")

    if token:
        check_token(token, "The token")
    elif os.environ.get(TOKEN_ENV):
        token = check_token(os.environ[TOKEN_ENV], f"${TOKEN_ENV}")
    else:
        token = None
    if not is_loopback(host) and not token:
        raise ConfigurationError(
            f"Refusing to listen on {host} without a token: anyone who can reach it could "
            f"call your models. Set {TOKEN_ENV} (or pass --token-file PATH), or listen on "
            "127.0.0.1."
        )
    if port is None:
        text = os.environ.get(PORT_ENV, str(DEFAULT_PORT))
        if not text.strip().isascii() or not text.strip().isdigit():
            raise ConfigurationError(
                f"${PORT_ENV} is {text[:40]!r}; set it to a port number from 0 to 65535."
            )
        port = check_port(int(text), f"${PORT_ENV}")
    else:
        check_port(port, "--port")
    if max_body is not None and max_body <= 0:
        raise ConfigurationError(
            f"--max-body is {max_body}; give the largest request body in bytes, a positive "
            "number (the default is 16 MiB)."
        )
    check_workers(workers)
    registry = Registry(home)
    # Several workers each listen on the port (SO_REUSEPORT): the kernel spreads new
    # connections evenly over them. One inherited socket would let whichever worker wakes
    # first take a whole burst of connections (wrk's 64 all went to one of two).
    reuse_port = workers > 1 and REUSE_PORT
    sock = bind(host, port, fallback=port_fallback, reuse_port=reuse_port, listen=not reuse_port)
    actual_port = sock.getsockname()[1]
    ours = _logger(log_level)
    limits = fit_open_files(limits or ConnectionLimits())
    info = {
        "pid": os.getpid(),
        "host": host,
        "port": actual_port,
        "requested_port": port,  # differs from "port" when --port-fallback found it taken
        "url": f"http://{_url_host(host)}:{actual_port}",
        "token_required": bool(token),
        "limits": limits.as_dict(),
        "workers": workers,
        "name": name,
    }
    if port not in (0, actual_port):
        ours.warning("port %d is taken; listening on port %d instead", port, actual_port)
    path = server_file(registry.home)
    try:
        if workers == 1:
            _write_atomic(path, info)
            _run(registry, sock, token, max_body, poll_interval, log_level, limits, None, name)
            return
        from .supervisor import Supervisor
        from .workers import run_directory

        command = [
            *(sys.executable, "-m", "maas_nb.serving", "--home", str(registry.home)),
            *(WORKER_OF, str(os.getpid())),
            *(("--port", str(actual_port)) if reuse_port else ("--listen-fd", str(sock.fileno()))),
            *("--host", host, "--log-level", log_level, "--name", name, *limits.as_args()),
            *(("--max-body", str(max_body)) if max_body else ()),
        ]
        env_token = {TOKEN_ENV: token} if token else {}
        directory = run_directory(registry.home, os.getpid())
        with environment(env_token):
            supervisor = Supervisor(
                command,
                () if reuse_port else (sock.fileno(),),
                workers=workers,
                directory=directory,
            )
            code = supervisor.run(lambda: _write_atomic(path, info))
        if code:
            raise ServerUnavailableError(
                f"The model server stopped: its workers kept crashing; see {path.parent}."
            )
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()


def serve_worker(
    home: str | os.PathLike[str] | None,
    *,
    supervisor: int,
    fd: int | None,
    port: int | None,
    index: int,
    host: str = DEFAULT_HOST,
    max_body: int | None = None,
    log_level: str = "info",
    limits: ConnectionLimits | None = None,
    name: str | None = None,
) -> None:
    """One of the workers `serve` starts: serve on the inherited socket *fd*, or on *port*
    beside the other workers (``SO_REUSEPORT``), until SIGTERM or the supervisor is gone."""
    from ..registry import Registry
    from .limits import fit_open_files
    from .supervisor import die_with_parent
    from .workers import run_directory

    die_with_parent(supervisor)
    token = os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and not token:
        raise ConfigurationError(f"A worker listening on {host} needs ${TOKEN_ENV}.")
    registry = Registry(home)
    if fd is not None:
        sock = socket.socket(fileno=fd)
    else:
        assert port is not None
        sock = bind(host, port, fallback=False, reuse_port=True)
    _logger(log_level)
    directory = run_directory(registry.home, supervisor)
    limits = fit_open_files(limits or ConnectionLimits())
    worker = (directory, index, supervisor)
    _run(registry, sock, token, max_body, 0.5, log_level, limits, worker, server_name(name))


def check_workers(workers: object) -> int:
    """*workers* if a whole number of server processes, at least 1."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(
            f"workers is {workers!r}; give the number of server processes, a whole number "
            "of at least 1 (the default, 1, serves from one process)."
        )
    return workers


def _run(
    registry: Any,
    sock: socket.socket,
    token: str | None,
    max_body: int | None,
    poll_interval: float,
    log_level: str,
    limits: ConnectionLimits,
    worker: tuple[Path, int, int] | None,
    name: str,
) -> None:
    """Serve *registry*'s deployments meant for server *name* on *sock* in this process
    until told to stop."""
    import uvicorn

    from .app import create_app
    from .limits import guarded_protocol
    from .requests import DEFAULT_MAX_BODY
    from .workers import WorkerGroup

    ours = logging.getLogger("maas_nb.serving")
    server: Any = None

    def stop(reason: str) -> None:
        ours.warning("%s: stopping the server", reason)
        server.should_exit = True

    if worker is None:
        group = WorkerGroup()
    else:
        directory, index, supervisor = worker
        group = WorkerGroup(directory, index=index, supervisor=supervisor, on_orphaned=stop)
    app = create_app(
        registry,
        name=name,
        token=token,
        max_body=max_body or DEFAULT_MAX_BODY,
        poll_interval=poll_interval,
        on_home_gone=stop,
        group=group,
    )
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    # uvicorn.Config configured its loggers anew (and turned the access log off): share them.
    ours.handlers = logging.getLogger("uvicorn").handlers
    config.http = guarded_protocol(limits)
    config.timeout_keep_alive = limits.keep_alive_timeout  # type: ignore[assignment]
    server = _server_class()(config)
    server.run(sockets=[sock])


def _logger(log_level: str) -> logging.Logger:
    """Our log, in uvicorn's format on uvicorn's stream, from now on (before uvicorn.Config
    configures its loggers, as the supervisor never does)."""
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn.Config does, for the supervisor
    ours = logging.getLogger("maas_nb.serving")
    ours.setLevel(log_level.upper())
    ours.handlers = logging.getLogger("uvicorn").handlers
    ours.propagate = False
    # psycopg's pool warns at each attempt to reconnect to a stopped registry database;
    # the model pool says once that the registry is unavailable, and once that it is back.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return ours


def _server_class() -> type:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its graceful shutdown (exit status -15); a
        drained SIGTERM is a clean stop for us, so the process exits 0."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if sig == signal.SIGTERM and captured and captured[-1] == sig:
                captured.pop()

    return DrainingServer


def read_server_file(home: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """What ``server.json`` says, if it names a process that is still alive."""
    path = server_file(home_dir(home))
    try:
        info = json.loads(path.read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if pid_alive(pid) else None


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - only used to build the local URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _write_atomic(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, path)
