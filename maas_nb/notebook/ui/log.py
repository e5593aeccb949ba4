"""The panel's status area: every callback's messages and errors land here, never on stdout."""

from __future__ import annotations

import contextlib
import functools
import html
import io
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ...exceptions import MaasError

MAX_LINES = 200
SHOWN_LINES = 8


class StatusLog:
    """The newest messages, newest last; errors in red. ``lines`` keeps the plain text."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []  # (level, text)
        self._stamps: list[str] = []
        self.widget = widgets.HTML(layout=widgets.Layout(min_height="3em"))
        self.widget.add_class("maas-log")
        self._lock = threading.Lock()

    def info(self, text: str) -> None:
        self._add("info", text)

    def error(self, text: str) -> None:
        self._add("error", text)

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.lines if level == "error"]

    @property
    def last(self) -> str:
        return self.lines[-1][1] if self.lines else ""

    def _add(self, level: str, text: str) -> None:
        # Callbacks, the deploy thread and the watcher all log: one writer at a time, so
        # an older rendering never overwrites a newer one.
        with self._lock:
            self.lines.append((level, text))
            self._stamps.append(time.strftime("%H:%M:%S"))
            del self.lines[:-MAX_LINES], self._stamps[:-MAX_LINES]
            shown = zip(self._stamps[-SHOWN_LINES:], self.lines[-SHOWN_LINES:], strict=True)
            rows = "".join(
                f"<div class='maas-log-{lvl}' style='{_STYLE[lvl]}'>"
                f"{stamp} {html.escape(line)}</div>"
                for stamp, (lvl, line) in shown
            )
            self.widget.value = (
                f"<div style='font-family:monospace;font-size:12px;line-height:1.4'>{rows}</div>"
            )

    def guard(self, what: str) -> Callable[[Callable[..., Any]], Callable[..., None]]:
        """Wrap a callback: its prints and any exception go to this log, not to stdout."""

        def decorate(fn: Callable[..., Any]) -> Callable[..., None]:
            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> None:
                self.call(what, fn, *args, **kwargs)

            return wrapper

        return decorate

    def call(
        self, what: str, fn: Callable[..., Any], *args: Any, capture: bool = True, **kwargs: Any
    ) -> Any:
        """Run *fn*; log what it printed and, if it raised, one line saying why.

        Capturing swaps the process-wide sys.stdout, so it happens only on the kernel's main
        thread (between cells, when a widget event is handled), never from the deploy or
        watcher threads, which run beside the user's cells; our own code prints nothing.
        """
        out = io.StringIO()
        capture = capture and threading.current_thread() is threading.main_thread()
        try:
            with contextlib.ExitStack() as stack:
                if capture:
                    stack.enter_context(contextlib.redirect_stdout(out))
                    stack.enter_context(contextlib.redirect_stderr(out))
                return fn(*args, **kwargs)
        except Exception as exc:
            self.error(f"{what} failed: {describe(exc)}")
            return None
        finally:
            for line in out.getvalue().splitlines():
                if line.strip():
                    self.info(line)


def describe(exc: BaseException) -> str:
    """One line for an exception: our own errors speak for themselves; others get their type."""
    if isinstance(exc, MaasError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


_STYLE = {"info": "color:inherit", "error": "color:#b00020;font-weight:bold"}
