"""``python -m maas_nb.serving``: the same as ``maas serve``."""

from __future__ import annotations

import sys

from .command import main

if __name__ == "__main__":
    sys.exit(main())
