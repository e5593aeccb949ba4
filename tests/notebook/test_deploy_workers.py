"""%maas deploy --workers N starts a server of N worker processes."""

import json

from tests.notebook.conftest import out
from tests.notebook.test_magics import train


def test_deploy_workers_starts_that_many(ip, home):
    train(ip, "train iris --register --alias production")
    card = out(ip, "deploy iris@production --workers 2")
    assert "status   ready" in card
    info = json.loads((home / "server.json").read_text())
    assert info["workers"] == 2
    assert len(list((home / "run" / f"server-{info['pid']}").glob("*.json"))) == 2
