"""The one command table: each verb of ``maas`` and ``%maas`` defined once.

A verb's arguments, validation and the `Result` it returns live here; the CLI renders
results as text or JSON, the magics as HTML cards with a stable text form. Verbs only one
front end can have stay with it: ``serve`` (a long-running process) in the CLI;
``train``, ``register`` and ``ui`` (which need the kernel's variables) in the magics.
"""

from __future__ import annotations

from typing import Any

from .command import Command, Context, add_store_options, store_options
from .result import Card, Column, Field, Result, Table, Text, card, table


def __getattr__(name: str) -> Any:
    """``COMMANDS``, the verbs by name, built on first use: the verb modules import the
    deploying and pipeline parts, which ``%load_ext maas_nb`` need not pay for."""
    if name != "COMMANDS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import (
        deploy_verbs,
        experiment_verbs,
        monitoring_verbs,
        pipeline_verbs,
        registry_verbs,
        store_verbs,
        traffic_verbs,
    )

    commands: dict[str, Command] = {
        c.name: c
        for c in [
            *registry_verbs.COMMANDS,
            *deploy_verbs.COMMANDS,
            *monitoring_verbs.COMMANDS,
            *traffic_verbs.COMMANDS,
            *experiment_verbs.COMMANDS,
            *pipeline_verbs.COMMANDS,
            *store_verbs.COMMANDS,
        ]
    }
    globals()["COMMANDS"] = commands
    return commands


__all__ = [
    "COMMANDS",
    "Card",
    "Column",
    "Command",
    "Context",
    "Field",
    "Result",
    "Table",
    "Text",
    "add_store_options",
    "card",
    "store_options",
    "table",
]
