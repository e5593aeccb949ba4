"""The README's first command runs examples/quickstart.py on the embedded default."""

import os
import subprocess
import sys

import maas_nb
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT


def test_quickstart_trains_registers_deploys_and_predicts(home):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MAAS_HOME": str(home), "MAAS_PORT": "0"},
    )
    assert result.returncode == 0, result.stderr
    assert "Registered iris:1 (sklearn" in result.stdout
    assert "Deployed: http://127.0.0.1:" in result.stdout
    assert "Predictions over HTTP for 5 test rows: [" in result.stdout
    v = maas_nb.get("iris@production")
    assert v.signature.kind == "dataframe" and v.metrics["accuracy"] > 0.9
    # It stopped the server it started and left no deployment behind.
    assert read_server_file(home) is None
    assert maas_nb.registry().list_deployments() == []
