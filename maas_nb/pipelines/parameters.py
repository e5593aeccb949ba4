"""Pipeline parameters from the command line (``-p KEY VALUE``, read as YAML) and files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError


def parse_value(text: str) -> Any:
    """``3`` -> 3, ``0.5`` -> 0.5, ``true`` -> True, ``[1, 2]`` -> [1, 2], else the text."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_parameters(pairs: list[list[str]] | None, file: str | None = None) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    if file:
        try:
            loaded = yaml.safe_load(Path(file).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"Cannot read parameters from {file!r}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigurationError(f"{file!r} must hold a mapping of parameter names to values.")
        out.update(loaded)
    for key, value in pairs or []:
        out[key] = parse_value(value)
    return out


def parse_grid(pairs: list[list[str]] | None) -> dict[str, list[Any]]:
    """``-p C 0.1,1,10`` -> ``{"C": [0.1, 1, 10]}``; a YAML list (``[a, b]``) works too."""
    grid: dict[str, list[Any]] = {}
    for key, text in pairs or []:
        value = parse_value(text) if text.strip().startswith("[") else None
        if not isinstance(value, list):
            value = [parse_value(part.strip()) for part in text.split(",") if part.strip()]
        grid.setdefault(key, []).extend(value)
    return grid


def _notebook_and_parameters(parser: Any, value: str, help: str) -> None:
    parser.add_argument("notebook")
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("KEY", value), help=help
    )


def add_run_arguments(parser: Any) -> None:
    """The arguments of ``maas run`` and ``%maas run``."""
    _notebook_and_parameters(
        parser, "VALUE", "a parameter; VALUE is read as YAML (3, 0.5, true, [1, 2], text)"
    )
    parser.add_argument("-f", "--file", help="a YAML file of parameters")
    parser.add_argument("--name", help="run name (default: the notebook's file name)")


def add_sweep_arguments(parser: Any) -> None:
    """The arguments of ``maas sweep`` and ``%maas sweep``."""
    _notebook_and_parameters(
        parser, "VALUES", "a parameter and its comma-separated values (each read as YAML)"
    )
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--best", metavar="METRIC", help="mark the best run by this metric")
    parser.add_argument(
        "--alias-best", metavar="ALIAS", help="point ALIAS at the best run's version"
    )
    parser.add_argument(
        "--executor",
        default="local",
        metavar="local|ray|ray://HOST:PORT",
        help="where the points run: local worker processes (default), Ray tasks on "
        "$MAAS_RAY_ADDRESS / $RAY_ADDRESS or a local Ray cluster (ray), or on the Ray "
        "cluster at ray://HOST:PORT",
    )
