"""Editing compose files without disturbing them: the change is decided on ruamel.yaml's round-trip
model and written at the positions it recorded, so comments, order, quoting, anchors and every other
byte stay. `memory` sets a service's memory limit (set_memory_limit's persistence)."""

from mcp_server.compose_edit.document import EditError, LayoutError
from mcp_server.compose_edit.memory import (
    MEMORY_PATH,
    memory_text,
    patch_memory,
    rewrite_memory,
    uses_deploy_form,
)

__all__ = [
    "MEMORY_PATH",
    "EditError",
    "LayoutError",
    "memory_text",
    "patch_memory",
    "rewrite_memory",
    "uses_deploy_form",
]
