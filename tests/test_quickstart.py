"""The README's first command runs examples/quickstart.py on the embedded default registry."""

import os
import subprocess
import sys

import maas_nb
from tests.helpers import ROOT


def test_quickstart_trains_registers_and_loads(home):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MAAS_HOME": str(home)},
    )
    assert result.returncode == 0, result.stderr
    assert "Registered iris:1 (sklearn" in result.stdout
    assert "iris@production -> iris:1" in result.stdout
    v = maas_nb.get("iris@production")
    assert v.signature.kind == "dataframe" and v.metrics["accuracy"] > 0.9
