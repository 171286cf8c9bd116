"""The one error incident memory raises (its message is one line: what went wrong, what to do)."""

from __future__ import annotations


class MemoryStoreError(Exception):
    """The knowledge base or its embedding could not do what was asked; the message says why."""
