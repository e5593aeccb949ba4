"""The token comes from $MAAS_TOKEN or a private file, never argv; the CLI against a
server that wants a token changes nothing it cannot finish."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

import maas_nb
from maas_nb.config import user
from maas_nb.registry import Registry
from tests.helpers import ROOT
from tests.serving.conftest import spawn_server, stop

TOKEN = "t0ken-in-no-process-list"
INFER = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}


def command_lines() -> str:
    """Every process's command line that we can read, NUL-separated arguments joined."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # it exited meanwhile
                raw = (entry / "cmdline").read_bytes()
                lines.append(raw.replace(b"\0", b" ").decode(errors="replace"))
    return "\n".join(lines)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_a_deployed_server_keeps_the_token_out_of_cmdline_log_and_server_json(
    home, classifier, iris, monkeypatch
):
    X, _ = iris
    maas_nb.register(classifier, "iris", sample=X[:5])
    monkeypatch.setenv("MAAS_TOKEN", TOKEN)
    dep = maas_nb.deploy("iris")
    assert dep.predict(X[:2]).shape == (2,)
    info = json.loads((home / "server.json").read_text())
    server_cmdline = (Path("/proc") / str(info["pid"]) / "cmdline").read_bytes()
    assert b"maas_nb.serving" in server_cmdline  # we read the server's own command line
    assert TOKEN not in command_lines()
    assert TOKEN not in (home / "server.json").read_text()
    assert TOKEN not in (home / "server.log").read_text()
    assert info["token_required"] is True
    with httpx.Client(trust_env=False) as anonymous:
        assert anonymous.post(dep.url, json=INFER).status_code == 401


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_serve_reads_the_token_from_a_private_file(home, tmp_path, classifier, iris):
    Registry(home).register(classifier, "iris", sample=iris[0][:5])
    Registry(home).put_deployment("iris", "iris", {})
    token_file = private_file(tmp_path / "token", f"  {TOKEN}\n")  # whitespace is stripped
    server = spawn_server(home, "--token-file", str(token_file))
    try:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=60) as c:
            assert c.post("/maas/reconcile").status_code == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            assert c.post("/maas/reconcile", headers=auth).status_code == 200
            assert c.post("/v2/models/iris/infer", json=INFER, headers=auth).status_code == 200
        assert TOKEN not in command_lines()
        assert TOKEN not in (home / "server.json").read_text()
    finally:
        output = stop(server)
    assert "Started server process" in output and TOKEN not in output


def serve(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MAAS_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "maas_nb.serving", "--home", str(home), "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


def test_a_token_file_other_users_can_read_is_refused(home, tmp_path):
    token_file = private_file(tmp_path / "token", TOKEN, mode=0o644)
    result = serve(home, "--token-file", str(token_file))
    assert result.returncode == 1
    assert result.stderr == (
        f"maas: error: The token file '{token_file}' is accessible to other users (mode 0644): "
        "anyone who can read it can call your models. Make it private with: "
        f"chmod 600 '{token_file}'\n"
    )


@pytest.mark.parametrize("text", ["", "   \n", "two words\n", "one\nline two\n"])
def test_a_token_file_must_hold_one_token(home, tmp_path, text):
    token_file = private_file(tmp_path / "token", text)
    result = serve(home, "--token-file", str(token_file))
    assert result.returncode == 1
    assert result.stderr == (
        f"maas: error: The token file '{token_file}' must hold one token: printable characters "
        "without spaces, on one line.\n"
    )


def test_a_missing_token_file_is_named(home, tmp_path):
    result = serve(home, "--token-file", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert result.stderr == (
        f"maas: error: Cannot read the token file '{tmp_path / 'nope'}': "
        "No such file or directory.\n"
    )


def test_a_token_on_the_command_line_is_refused(home):
    result = serve(home, "--token", TOKEN)
    assert result.returncode == 1
    assert result.stderr == (
        "maas: error: maas serve --token would show the token to every user of this machine "
        "in the process list; set MAAS_TOKEN or pass --token-file PATH (a file only you can "
        "read) instead.\n"
    )


# -- the installed `maas` script against a server that wants a token -----------------------


def maas(home: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``maas`` script (importing this tree), as a user would."""
    script = Path(sysconfig.get_path("scripts")) / "maas"
    env = {k: v for k, v in os.environ.items() if k != "MAAS_TOKEN"}
    env.update(PYTHONPATH=str(ROOT), MAAS_HOME=str(home), MAAS_PORT="0")
    if token:
        env["MAAS_TOKEN"] = token
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.fixture
def token_server(home, classifier, iris):
    """A token server for a home with iris registered and nothing deployed."""
    Registry(home).register(classifier, "iris", sample=iris[0][:5])
    server = spawn_server(home, token=TOKEN)
    yield server
    stop(server)


def refusal(server) -> str:
    return (
        f"maas: error: The model server at {server.url} wants a token (401) and MAAS_TOKEN is "
        "not set: set MAAS_TOKEN to the token the server was started with. Nothing was changed.\n"
    )


def test_cli_deploy_without_the_token_changes_nothing(token_server, home):
    result = maas(home, "deploy", "iris")
    assert result.returncode == 1
    assert result.stderr == refusal(token_server)
    assert Registry(home).list_deployments() == []
    # Before, the deployment was written anyway and served at the next poll.
    assert token_server.reconcile() == []

    ok = maas(home, "deploy", "iris", token=TOKEN)
    assert ok.returncode == 0, ok.stderr
    assert f"\n  url      {token_server.url}/v2/models/iris/infer\n" in ok.stdout


def test_cli_undeploy_without_the_token_changes_nothing(token_server, home):
    assert maas(home, "deploy", "iris", token=TOKEN).returncode == 0
    result = maas(home, "undeploy", "iris")
    assert result.returncode == 1
    assert result.stderr == refusal(token_server)
    assert [d.name for d in Registry(home).list_deployments()] == ["iris"]
    assert [(s["name"], s["status"]) for s in token_server.reconcile()] == [("iris", "ready")]
    ok = maas(home, "undeploy", "iris", token=TOKEN)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "Undeployed iris (iris)\n"
    assert token_server.reconcile() == []


def test_cli_deployments_without_the_token_lists_the_registry_and_says_why(token_server, home):
    assert maas(home, "deploy", "iris", token=TOKEN).returncode == 0
    note = (
        f"maas: note: The model server at {token_server.url} wants a token (401) and MAAS_TOKEN "
        "is not set: set MAAS_TOKEN to the token the server was started with. Showing the "
        "registry's deployments only.\n"
    )
    table = maas(home, "deployments")
    assert table.returncode == 0, table.stderr
    assert table.stderr == note
    assert "Traceback" not in table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == [
        "NAME",
        "TARGET",
        "SERVER",
        "VERSION",
        "STATUS",
        "WHERE",
        "REPLICAS",
        "BY",
        "URL",
    ]
    assert row.split() == [
        "iris",
        "iris",
        "(any)",
        "-",
        "unknown",
        "local",
        "-",
        user(),
        f"{token_server.url}/v2/models/iris/infer",
    ]
    as_json = maas(home, "deployments", "--json")
    assert as_json.returncode == 0 and as_json.stderr == note
    assert [(d["name"], d["status"]) for d in json.loads(as_json.stdout)] == [("iris", "unknown")]
    with_token = maas(home, "deployments", token=TOKEN)
    assert with_token.stderr == ""
    assert with_token.stdout.splitlines()[1].split()[3:5] == ["1", "ready"]
