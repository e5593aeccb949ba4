"""``python -m maas_nb.pipelines.worker NOTEBOOK PARAMETERS_JSON``: one sweep point.

Sweeps run each point in a process of its own (which drives the notebook's kernel), so
points proceed in parallel without sharing an interpreter lock. Prints the run's id.
"""

from __future__ import annotations

import json
import sys

from .executor import run


def main(argv: list[str]) -> int:
    notebook, parameters = argv
    record = run(notebook, json.loads(parameters))
    print(record.id, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
