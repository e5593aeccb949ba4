"""The Deploy tab's Python snippet: short enough to read, and it runs as pasted.

A request body is JSON-like (dicts, lists, strings, numbers). `literal` writes it as
Python source the way black lays out a literal: on one line if it fits in the width,
else one key or item per line, with a closing bracket of its own. A list of plain
values (one row of features) is filled to the width rather than laid one per line, so
a 64-feature sample takes three lines, not sixty-four; a list of rows keeps a row
per line.
"""

from __future__ import annotations

import json
from typing import Any

WIDTH = 88


def python_snippet(url: str, body: dict[str, Any], *, token_env: str | None = None) -> str:
    """Python that POSTs *body* to *url* with httpx and prints the first output's data.

    With *token_env*, the bearer token is read from that environment variable: the
    snippet never shows the token itself.
    """
    if token_env:
        imports = "import os\n\nimport httpx\n\n"
        auth = f'    headers={{"Authorization": "Bearer " + os.environ["{token_env}"]}},\n'
    else:
        imports, auth = "import httpx\n\n", ""
    prefix = "    json="
    shown = literal(body, indent=4, used=len(prefix))
    return (
        f"{imports}response = httpx.post(\n    {literal(url)},\n{prefix}{shown},\n{auth})\n"
        'print(response.json()["outputs"][0]["data"])'
    )


def literal(value: Any, *, indent: int = 0, used: int | None = None, width: int = WIDTH) -> str:
    """*value* as a Python literal that starts *used* characters into a line at *indent*.

    Lines after the first are indented absolutely; none is longer than *width* unless a
    single value (a long string) is.
    """
    used = indent if used is None else used
    flat = _flat(value)
    # The +1 leaves room for the comma that follows the value in its container.
    if used + len(flat) + 1 <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    inner = indent + 4
    pad = " " * inner
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            head = f"{pad}{_flat(key)}: "
            lines.append(f"{head}{literal(item, indent=inner, used=len(head), width=width)},")
        opening, closing = "{", "}"
    else:
        opening, closing = "[", "]"
        if any(isinstance(item, (dict, list)) for item in value):
            lines = [f"{pad}{literal(item, indent=inner, width=width)}," for item in value]
        else:
            lines = _fill([_flat(item) for item in value], pad, width)
    return "\n".join([opening, *lines, " " * indent + closing])


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # double quotes, as black writes them
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    return repr(value)


def _fill(items: list[str], pad: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for item in items:
        piece = f"{item},"
        if line and len(pad) + len(line) + 1 + len(piece) > width:
            lines.append(pad + line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        lines.append(pad + line)
    return lines
