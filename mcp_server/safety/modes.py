"""Safety modes: how much the server may change, from nothing to everything.

`read-only` < `operate` < `admin`. Every action declares the lowest mode it needs (see `actions.py`);
the server runs in one mode, set by the operator in the settings (default `operate`).
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """The server's safety mode. Compare with `allows()`, not with `<` on the strings."""

    READ_ONLY = "read-only"
    OPERATE = "operate"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Mode) -> bool:
        """True when a server in this mode may run an action that needs `needed`."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """Accept `read-only`, `read_only`, `readonly`, `ro`, `operate`, `admin` (any case)."""
        if isinstance(value, Mode):
            return value
        text = str(value).strip().lower().replace("_", "-")
        text = {"readonly": "read-only", "ro": "read-only"}.get(text, text)
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown safety mode {value!r}: use one of read-only, operate, admin") from None


_RANK = {Mode.READ_ONLY: 0, Mode.OPERATE: 1, Mode.ADMIN: 2}
