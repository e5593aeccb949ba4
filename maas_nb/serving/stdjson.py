"""The standard library's JSON parser with its containers walked in Python, for big bodies.

``json.loads`` parses a whole document in one C call that holds the GIL throughout. Its
pure-Python scanner (``json.scanner.py_make_scanner``, which CPython tests against the C
one for the same results and errors) runs the arrays and objects as bytecode, so a worker
thread gives the GIL to the event loop every switch interval; strings are still read by
the C ``scanstring``, as ``json.loads`` reads them. Slower than one C call, it is the
fallback for big bodies the piecewise parser (`scan`) does not take.
"""

from __future__ import annotations

import json
import json.scanner
from typing import Any


def loads(body: bytes | bytearray) -> Any:
    """What ``json.loads(body)`` gives (or raises), yielding the GIL as it goes."""
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    decoder = json.JSONDecoder()
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        return decoder.decode(text)
    except RecursionError:
        # Python frames run out before the C parser's depth limit: let it decide.
        return json.loads(text)
