"""Starting benchmark servers and driving them with wrk: shared by serving.py and
profile_serving.py."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_live(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def start(
    args: list[str], env: dict | None = None, cwd: Path = ROOT, log: Path | None = None
) -> subprocess.Popen:
    """Start *args*; its output goes to *log* (appended) if given, else nowhere."""
    with open(log or os.devnull, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(procs: Iterable[subprocess.Popen]) -> None:
    """Stop the servers this bench started: SIGTERM to all, then wait (SIGKILL after 60 s)."""
    procs = list(procs)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(url: str, body: str, connections: int, duration: int) -> dict:
    """requests/s, p50 and p99 (ms) and errors of *connections* clients POSTing *body*."""
    script = _post_script(body)
    threads = min(connections, 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "errors": _errors(out),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _post_script(body: str) -> Path:
    """A wrk script POSTing *body*, one file per body, written whole before it is named:
    two wrk runs at once (together.py) never read a half-written script."""
    text = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    script = BENCH / "results" / f"post-{hashlib.sha256(text.encode()).hexdigest()[:16]}.lua"
    if not script.exists():
        script.parent.mkdir(exist_ok=True)
        part = script.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
        part.write_text(text)
        part.replace(script)
    return script


def _errors(out: str) -> int:
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return errors
