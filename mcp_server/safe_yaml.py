"""The one way this project reads YAML: a size cap, a nesting cap, and a cap on what aliases expand to.

Why: YAML anchors and aliases (`x: &a [...]`, then `*a`) let a few hundred bytes stand for a
billion values ("billion laughs"). PyYAML keeps each alias as a reference to the same node, so
parsing stays cheap; the blow-up comes afterwards, when anything walks the data: compose
interpolation, merge keys (`<<: [*a, *a]` copies entries), pydantic validation, JSON output.
So before anything walks it, the parsed node graph is measured once, in time proportional to the
text: how many nodes it has once every alias is expanded, how deep it nests, and whether an alias
contains itself. Anything over the limits is refused with a `YAMLLimitError` (a `yaml.YAMLError`,
so callers that already handle bad YAML handle it too), whose message says what to send instead.

    from mcp_server.safe_yaml import load_yaml, compose_yaml, read_yaml_file
    data = load_yaml(text, what="runbook")          # like yaml.safe_load, bounded
    node = compose_yaml(text, what="compose file")  # like yaml.compose, bounded
    text = read_yaml_file(path, what="config file") # size checked before reading

Limits come from the environment at each call (so the server, the CLI and tests agree):
`INFRAGUARDIAN_YAML_MAX_BYTES` (default 1 MiB) and `INFRAGUARDIAN_YAML_MAX_ALIAS_NODES` (nodes
that exist only through aliases, default 100,000). Nesting is capped at 100 levels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_ALIAS_NODES = 100_000
MAX_DEPTH = 100
MAX_BYTES_ENV = "INFRAGUARDIAN_YAML_MAX_BYTES"
MAX_ALIAS_NODES_ENV = "INFRAGUARDIAN_YAML_MAX_ALIAS_NODES"
# Expanded sizes saturate here: a bomb's real size (10**100 nodes) is never worth computing.
_SATURATED = 1 << 62

try:  # the C parser is ~10x faster and gives the same nodes and marks
    _DEFAULT_LOADER: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _DEFAULT_LOADER = yaml.SafeLoader


class YAMLLimitError(yaml.YAMLError):
    """The YAML is too big, nests too deep, or its aliases expand too far; the message says which."""


@dataclass(frozen=True)
class YamlLimits:
    """Bounds for one load. `max_alias_nodes` counts nodes that exist only through aliases."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_alias_nodes: int = DEFAULT_MAX_ALIAS_NODES
    max_depth: int = MAX_DEPTH


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise YAMLLimitError(f"{name}={raw!r} is not valid: set a positive whole number, e.g. {default}")
    return value


def limits_from_env() -> YamlLimits:
    """The limits in force: defaults, overridden by the two environment variables."""
    return YamlLimits(
        max_bytes=_env_int(MAX_BYTES_ENV, DEFAULT_MAX_BYTES),
        max_alias_nodes=_env_int(MAX_ALIAS_NODES_ENV, DEFAULT_MAX_ALIAS_NODES),
    )


def _too_big(what: str, size: int, limits: YamlLimits) -> YAMLLimitError:
    return YAMLLimitError(
        f"{what} is {size:,} bytes, over the {limits.max_bytes:,}-byte limit ({MAX_BYTES_ENV}); "
        "send a smaller file"
    )


def check_size(text: str, what: str = "YAML", limits: YamlLimits | None = None) -> None:
    """Raise YAMLLimitError when `text` is longer than the byte limit (UTF-8)."""
    limits = limits or limits_from_env()
    if len(text) * 4 <= limits.max_bytes:  # a character is at most 4 bytes: surely small enough
        return
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise _too_big(what, size, limits)


def _split(node: yaml.Node) -> tuple[list[yaml.Node], int]:
    """(sequence and mapping nodes directly inside `node`, keys included; number of scalars there)."""
    if isinstance(node, yaml.MappingNode):
        items = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        items = node.value
    else:
        return [], 0
    inner = [item for item in items if not isinstance(item, yaml.ScalarNode)]
    return inner, len(items) - len(inner)


def measure(root: yaml.Node, what: str = "YAML", limits: YamlLimits | None = None) -> tuple[int, int]:
    """(written nodes, nodes once every alias is expanded) of a composed document.

    Visits each distinct sequence/mapping once, without recursion (any depth is safe to measure),
    and raises YAMLLimitError for an alias that contains itself, nesting beyond `max_depth`, or
    aliases that add more than `max_alias_nodes` nodes. (An alias of a single scalar adds one node
    and is counted as written: only aliases of collections can multiply anything.)
    """
    limits = limits or limits_from_env()
    if isinstance(root, yaml.ScalarNode):
        return 1, 1
    size: dict[int, int] = {}  # id(node) -> nodes once expanded, saturating
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    alias_uses = 0
    added_by_aliases = 0
    written = 0
    # (node, None) = not visited yet; (node, (inner, leaves)) = its inner nodes are all measured
    stack: list[tuple[yaml.Node, tuple[list[yaml.Node], int] | None]] = [(root, None)]
    while stack:
        node, parts = stack.pop()
        key = id(node)
        if parts is not None:
            inner, leaves = parts
            written += 1 + leaves
            size[key] = min(_SATURATED, 1 + leaves + sum(size[id(k)] for k in inner))
            depth[key] = 1 + max((depth[id(k)] for k in inner), default=1 if leaves else 0)
            open_nodes.discard(key)
            if depth[key] > limits.max_depth:
                raise YAMLLimitError(
                    f"{what} nests deeper than {limits.max_depth} levels (line {node.start_mark.line + 1}); "
                    "refusing to read it: send a flatter document"
                )
            continue
        if key in open_nodes:
            raise YAMLLimitError(
                f"{what} has an alias that contains itself (line {node.start_mark.line + 1}); "
                "refusing to expand it: remove the self-reference"
            )
        if key in size:
            alias_uses += 1
            added_by_aliases = min(_SATURATED, added_by_aliases + size[key])
            continue
        open_nodes.add(key)
        parts = _split(node)
        stack.append((node, parts))
        stack.extend((child, None) for child in reversed(parts[0]))
    expanded = size[id(root)]
    if added_by_aliases > limits.max_alias_nodes:
        shown = f"{expanded:,}" if expanded < _SATURATED else "astronomically many"
        raise YAMLLimitError(
            f"{what} uses too many aliases ({alias_uses:,} alias uses expand "
            f"{written:,} written nodes to {shown}; at most "
            f"{limits.max_alias_nodes:,} more are allowed, {MAX_ALIAS_NODES_ENV}); "
            "refusing to expand it: write the repeated parts out or nest fewer anchors"
        )
    return written, expanded


def _compose(text: str, what: str, loader: type, limits: YamlLimits) -> tuple[Any, yaml.Node | None]:
    check_size(text, what, limits)
    instance = loader(text)
    try:
        node = instance.get_single_node()
    except RecursionError:  # the pure-Python composer recurses once per level
        instance.dispose()
        raise YAMLLimitError(
            f"{what} nests too deep to read; refusing to read it: send a flatter document"
        ) from None
    if node is not None:
        measure(node, what, limits)
    return instance, node


def compose_yaml(
    text: str, *, what: str = "YAML", loader: type | None = None, limits: YamlLimits | None = None
) -> yaml.Node | None:
    """Like `yaml.compose`: the document's node graph (None when empty), after the size, depth and
    alias checks. `loader` is a SafeLoader (sub)class; its resolver tags the scalars."""
    instance, node = _compose(text, what, loader or _DEFAULT_LOADER, limits or limits_from_env())
    instance.dispose()
    return node


def load_yaml(
    text: str, *, what: str = "YAML", loader: type | None = None, limits: YamlLimits | None = None
) -> Any:
    """Like `yaml.safe_load` (or `yaml.load` with a SafeLoader subclass), bounded.

    Raises YAMLLimitError for an input over the limits and yaml.YAMLError for invalid YAML.
    """
    instance, node = _compose(text, what, loader or _DEFAULT_LOADER, limits or limits_from_env())
    try:
        return None if node is None else instance.construct_document(node)
    finally:
        instance.dispose()


def read_yaml_file(path: str | Path, *, what: str = "YAML file", limits: YamlLimits | None = None) -> str:
    """A YAML file's text, refusing a file over the byte limit before reading it into memory.

    OSError and UnicodeDecodeError propagate (the caller names the file in its message).
    """
    limits = limits or limits_from_env()
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise _too_big(what, path.stat().st_size, limits)
    return data.decode("utf-8")
