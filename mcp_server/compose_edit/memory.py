"""Set one service's memory limit in a compose file, keeping everything else as it was.

The limit keeps the form the service already uses: `mem_limit`, or `deploy.resources.limits.memory`
(the form swarm stacks read). A service without a limit gets `prefer_deploy`'s form, added as the
first key of the service (or of the deepest `deploy…` mapping it already has). `memswap_limit` is
memory + swap and must not fall below the memory limit, or the next `docker compose up` fails: when
the new limit passes it, it is raised by the same amount of swap it allowed before.

    text, how = patch_memory(compose_text, "api", "512m", prefer_deploy=False)  # in place, or LayoutError
    text = rewrite_memory(compose_text, "api", "512m", prefer_deploy=False)    # whole model dumped

A limit written as a variable (`mem_limit: ${MEM:-512m}`) is not overwritten: EditError says to
change the variable in the env instead.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ruamel.yaml.comments import CommentedMap

from mcp_server.compose_edit.document import (
    AddFirst,
    Edit,
    EditError,
    LayoutError,
    Replace,
    apply,
    dump,
    is_block_mapping,
    load,
    own_items,
)
from mcp_server.docker_ops.actions import parse_size
from mcp_server.safe_yaml import load_yaml

MEMORY_PATH = ("deploy", "resources", "limits", "memory")


def memory_text(value: int) -> str:
    """512 MiB → `512m`, 1 GiB → `1g`; other values stay bytes."""
    for unit, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def patch_memory(text: str, service: str, value: str, *, prefer_deploy: bool) -> tuple[str, str]:
    """(new compose text, how) with `service`'s memory limit set to `value` and only the bytes of
    that change (plus a raised memswap_limit) different. Raises EditError when the file can't take
    the limit, LayoutError (an EditError) when only `rewrite_memory` can write it."""
    svc = _service(load(text), service)
    edits, how = _memory_edits(svc, value, prefer_deploy=prefer_deploy)
    return apply(text, edits), how


def rewrite_memory(text: str, service: str, value: str, *, prefer_deploy: bool) -> str:
    """Fallback for layouts `patch_memory` can't edit in place: the same change made in the model,
    then the whole file written by ruamel.yaml (comments, order, quoting, anchors kept)."""
    root = load(text)
    svc = _service(root, service)
    own = own_items(svc)
    if "mem_limit" in own or not prefer_deploy:
        _set_scalar(svc, "mem_limit", value, own)
    else:
        step = svc
        for key in MEMORY_PATH[:-1]:
            child = own_items(step).get(key)
            if child is None:
                child = CommentedMap()
                step[key] = child
            elif not isinstance(child, CommentedMap):
                raise EditError(f"{key} of service {service!r} is not a mapping; fix the compose file")
            step = child
        _set_scalar(step, MEMORY_PATH[-1], value, own_items(step))
    swap = _raised_memswap(svc, own, value)
    if swap is not None:
        _set_scalar(svc, "memswap_limit", swap, own)
    return dump(root)


def uses_deploy_form(text: str) -> bool:
    """True when the file sets limits only as deploy.resources.limits.memory."""
    try:
        data = load_yaml(text, what="the compose file")
    except Exception:  # not YAML, or over the limits: not the deploy form
        return False
    services = (data.get("services") if isinstance(data, dict) else None) or {}
    rows = [s for s in services.values() if isinstance(s, dict)] if isinstance(services, dict) else []

    def memory(row: dict[str, Any]) -> Any:
        step: Any = row
        for key in MEMORY_PATH:
            step = step.get(key) if isinstance(step, dict) else None
        return step

    return any(memory(s) for s in rows) and not any("mem_limit" in s for s in rows)


def _service(root: Any, service: str) -> CommentedMap:
    services = own_items(root).get("services") if isinstance(root, CommentedMap) else None
    svc = own_items(services).get(service) if isinstance(services, CommentedMap) else None
    if not isinstance(svc, CommentedMap):
        raise EditError(f"the compose file has no service {service!r}")
    return svc


def _memory_edits(svc: CommentedMap, value: str, *, prefer_deploy: bool) -> tuple[list[Edit], str]:
    own = own_items(svc)
    edits: list[Edit]
    if "mem_limit" in own:
        edits, how = [_replace(svc, "mem_limit", value)], "mem_limit changed"
    else:
        deepest, depth = svc, 0
        for key in MEMORY_PATH:
            found = own_items(deepest).get(key) if isinstance(deepest, CommentedMap) else None
            if found is None:
                break
            deepest, depth = found, depth + 1
        if depth == len(MEMORY_PATH):
            parent = own_items(svc)["deploy"]["resources"]["limits"]
            edits, how = [_replace(parent, "memory", value)], "deploy.resources.limits.memory changed"
        elif not prefer_deploy:
            edits, how = [_add_first(svc, ("mem_limit",), value)], "mem_limit added"
        else:
            edits = [_add_first(deepest, MEMORY_PATH[depth:], value)]
            how = "deploy.resources.limits.memory added"
    swap = _raised_memswap(svc, own, value)
    if swap is not None:
        edits.append(_replace(svc, "memswap_limit", swap))
        how = f"{how}; memswap_limit raised to keep its swap"
    return edits, how


def _raised_memswap(svc: CommentedMap, own: dict[Any, Any], value: str) -> str | None:
    """The new memswap_limit when the new memory limit would pass the written one, else None
    (no memswap_limit, unlimited -1, a ${VAR} we can't evaluate: left to the operator)."""
    swap = own.get("memswap_limit")
    if not _is_scalar(swap) or str(swap).strip() in ("-1", ""):
        return None
    try:
        swap_bytes = parse_size(str(swap), "memswap_limit")
        new_bytes = parse_size(value, "memory")
    except Exception:
        return None
    if swap_bytes >= new_bytes:
        return None
    extra = 0
    old_mem = own.get("mem_limit")
    if _is_scalar(old_mem):
        with contextlib.suppress(Exception):
            extra = max(0, swap_bytes - parse_size(str(old_mem), "mem_limit"))
    return memory_text(new_bytes + extra)


def _is_scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, dict | list)


def _check_replaceable(value: Any) -> None:
    if not _is_scalar(value):
        raise LayoutError("the memory limit is not a plain value")
    if "$" in str(value):
        raise EditError(f"the limit comes from a variable ({value}); change the variable in the env instead")


def _replace(mapping: Any, key: str, value: str) -> Replace:
    _check_replaceable(own_items(mapping)[key])
    return Replace(mapping, key, value)


def _add_first(mapping: Any, keys: tuple[str, ...], value: str) -> AddFirst:
    if not is_block_mapping(mapping) or not len(mapping):
        raise LayoutError("the service is not a block mapping")
    return AddFirst(mapping, keys, value)


def _set_scalar(mapping: CommentedMap, key: str, value: str, own: dict[Any, Any]) -> None:
    """Replace the value in its place, or add the key at the end of the mapping."""
    if key in own and "$" in str(own[key]):
        _check_replaceable(own[key])
    mapping[key] = value
