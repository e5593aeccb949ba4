"""A version's trust record: the types its artifact needs, and who approved each one.

``{"needs": [...], "approved": [{"type", "by", "at", "via"}, ...]}``. *needs* are the
names the artifact uses beyond its flavor's built-in allow-list; each approval comes
from an explicit, per-name opt-in of the person registering (``trusted_types=[...]``
or ``$MAAS_TRUSTED_TYPES``). Loading honours these approvals because the registry
wrote them from that opt-in; nothing in the artifact can add to them.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Mapping
from typing import Any

from .. import config
from .columns import now


def record(needs: Iterable[str], *, explicit: Iterable[str]) -> dict[str, Any]:
    """The trust record for an artifact that *needs* these types, approving what was named.

    A name passed as *explicit* (``trusted_types``) is recorded as approved through it;
    otherwise one listed in ``$MAAS_TRUSTED_TYPES`` is recorded as approved through that.
    """
    needs = sorted(set(needs))
    named = set(config.checked_type_names(explicit, source="trusted_types"))
    from_env = set(config.env_trusted_types())
    user, stamp = _user(), now().isoformat()
    approved = []
    for name in needs:
        via = "trusted_types" if name in named else config.TRUSTED_TYPES_ENV
        if name in named or name in from_env:
            approved.append({"type": name, "by": user, "at": stamp, "via": via})
    return {"needs": needs, "approved": approved}


def approved_types(trust: Mapping[str, Any]) -> list[str]:
    """The type names a trust record approves."""
    return [a["type"] for a in trust.get("approved", ()) if isinstance(a, Mapping)]


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (e.g. a container without USER): say so
        return "unknown"


def describe(trust: Mapping[str, Any], *, times: bool = False) -> str:
    """One line: each type the version needs and who approved it ("" if not recorded)."""
    if not trust:
        return ""
    needs = list(trust.get("needs", ()))
    if not needs:
        return "built-in allow-list only"
    by_type = {a["type"]: a for a in trust.get("approved", ()) if isinstance(a, Mapping)}
    parts = []
    for name in needs:
        approval = by_type.get(name)
        if approval is None:
            parts.append(f"{name} (not approved)")
            continue
        when = f" at {approval['at']}" if times else ""
        parts.append(f"{name} (approved by {approval['by']} via {approval['via']}{when})")
    return "; ".join(parts)
