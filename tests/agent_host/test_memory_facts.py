"""Memory sizes the agent computes for set_memory_limit are exact."""

from __future__ import annotations


def test_memory_sizes_are_exact_so_an_undo_puts_back_the_very_limit() -> None:
    from agent_host.diagnosis.facts import memory_size
    from mcp_server.docker_ops.actions import parse_memory_limit

    assert memory_size(512 * 1024 * 1024) == "512m"
    odd = 32 * 1024 * 1024 + 1  # a limit given in bytes that is not a whole MiB
    assert memory_size(odd) == f"{odd}b" and parse_memory_limit(memory_size(odd)) == odd
    assert parse_memory_limit(memory_size(2 * odd)) == 2 * odd  # twice it, never rounded above 2x
