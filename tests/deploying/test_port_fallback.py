"""When the default port is taken, the server starts on a free one, says so, and every
text form of the deploy result carries the URL."""

from __future__ import annotations

import contextlib
import re
import socket

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.serving.server import DEFAULT_PORT, read_server_file
from tests.notebook import conftest as notebook_shells

NOTE = (
    r"Port 8765 is taken \(by another program, or the server of another registry home\), "
    r"so the model server started on port (\d+) instead: http://127\.0\.0\.1:\1\. "
    r"Set MAAS_PORT to choose the port\."
)


@pytest.fixture
def default_port_taken(monkeypatch, registry, classifier, iris):
    """8765 held (by us, or already by someone else), no $MAAS_PORT, a model to deploy."""
    monkeypatch.delenv("MAAS_PORT")
    maas_nb.register(classifier, "iris", sample=iris[0][:5], alias="production")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with contextlib.suppress(OSError):  # taken already: just as good
        sock.bind(("127.0.0.1", DEFAULT_PORT))
        sock.listen(1)
    yield
    sock.close()


def test_the_cli_announces_the_other_port_and_prints_the_url(default_port_taken, home, capsys):
    assert main(["deploy", "iris@production"]) == 0
    out, err = capsys.readouterr()
    port = read_server_file(home)["port"]
    assert port != DEFAULT_PORT
    assert re.fullmatch(f"maas: note: {NOTE}\n", err), err
    url = f"http://127.0.0.1:{port}/v2/models/iris/infer"
    assert out.startswith(
        "Deployment iris\n"
        "  target   iris@production\n"
        "  server   (any)\n"
        "  version  1\n"
        "  status   ready\n"
        f"  url      {url}\n"
        f"  curl     curl -s -X POST {url} "
    )
    log = (home / "server.log").read_text()
    assert f"port 8765 is taken; listening on port {port} instead" in log


def test_the_magic_warns_and_its_card_text_carries_the_url(default_port_taken, home):
    shell = notebook_shells.TestingShell.instance()
    try:
        shell.run_cell("%load_ext maas_nb")
        with pytest.warns(UserWarning, match=f"^{NOTE}$"):
            card = shell.run_line_magic("maas", "deploy iris@production")
    finally:
        notebook_shells.TestingShell.clear_instance()
    port = read_server_file(home)["port"]
    assert repr(card) == (
        "Deployment iris\n"
        "  target   iris@production\n"
        "  version  1\n"
        "  status   ready\n"
        f"  url      http://127.0.0.1:{port}/v2/models/iris/infer"
    )
