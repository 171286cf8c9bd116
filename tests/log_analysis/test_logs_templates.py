"""Template mining with drain3: counts, times, examples, error flags, grouping quality."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from drain3 import TemplateMiner

from mcp_server.log_analysis.lines import lines_from_text
from mcp_server.log_analysis.templates import LogTemplateMiner, make_template_miner, mine_templates


def _stamped(lines: list[str]) -> str:
    return "".join(
        f"2026-11-25T09:{i // 60:02d}:{i % 60:02d}.000000000Z {line}\n" for i, line in enumerate(lines)
    )


def test_miner_is_configured_in_code_without_ini(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    miner = make_template_miner(similarity=0.5, depth=5)
    assert isinstance(miner, TemplateMiner)
    assert miner.persistence_handler is None
    assert miner.config.drain_sim_th == 0.5
    assert miner.config.drain_depth == 5
    assert miner.config.masking_instructions == []
    assert "drain3.ini" not in caplog.text


def test_counts_times_examples_and_error_flag() -> None:
    lines = []
    for i in range(30):
        lines.append(f"2026-11-25 09:00:{i % 60:02d},000 INFO api: GET /users/{i} done in {i * 3}ms")
        if i % 3 == 0:
            lines.append(f"2026-11-25 09:00:{i % 60:02d},000 ERROR api: db timeout after {i}s on 10.0.0.{i}")
        if i % 10 == 0:
            lines.append(f"2026-11-25 09:00:{i % 60:02d},000 WARNING api: cache miss ratio {i}%")
    stats = mine_templates(lines_from_text(_stamped(lines)))
    by_count = [(s.count, s.severity) for s in stats]
    assert by_count == [(30, None), (10, "error"), (3, "warning")]
    error = stats[1]
    assert error.is_error
    assert error.template == "db timeout after <NUM> on <IP>"
    assert error.example == "2026-11-25 09:00:00,000 ERROR api: db timeout after 0s on 10.0.0.0"
    assert error.first_line == 2
    assert error.first_time == datetime(2026, 11, 25, 9, 0, 1, tzinfo=UTC)
    assert (
        error.last_line
        == lines.index("2026-11-25 09:00:27,000 ERROR api: db timeout after 27s on 10.0.0.27") + 1
    )
    assert error.last_time is not None and error.last_time > error.first_time
    assert not stats[0].is_error and not stats[2].is_error


def test_lines_without_timestamps_have_no_times() -> None:
    stats = mine_templates(["job 1 done", "job 2 done", "job 3 done"])
    assert len(stats) == 1
    assert stats[0].count == 3
    assert stats[0].first_time is None


def test_lines_differing_only_in_values_share_a_cluster() -> None:
    miner = LogTemplateMiner()
    ids = miner.add_many(
        [
            "user 17 logged in from 10.0.0.1",
            "user 4242 logged in from 192.168.1.20",
            "request 3f2a9c1e-0000-4bbb-8ccc-123456789abc failed",
            "request 9f1c2d3e-1111-2222-3333-444455556666 failed",
            "user 5 logged in from 10.0.0.9",
        ]
    )
    assert ids[0] == ids[1] == ids[4]
    assert ids[2] == ids[3]
    assert ids[0] != ids[2]
    assert miner.template(ids[0]) == "user <NUM> logged in from <IP>"
    assert miner.cluster_count == 2


def test_header_formats_do_not_merge_distinct_messages() -> None:
    # Same header, different events: header stripping keeps them apart.
    lines = [
        f"2026-11-25 09:00:0{i},000 ERROR [main] com.shop.Orders: {msg}"
        for i, msg in enumerate(["payment declined", "stock missing", "payment declined", "stock missing"])
    ]
    ids = LogTemplateMiner().add_many(lines)
    assert ids[0] == ids[2] and ids[1] == ids[3] and ids[0] != ids[1]


def _grouping_accuracy(truth: list[str], predicted: list[int]) -> float:
    true_groups: dict[str, set[int]] = defaultdict(set)
    predicted_groups: dict[int, set[int]] = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        true_groups[t].add(i)
        predicted_groups[p].add(i)
    good = sum(
        len(members)
        for members in predicted_groups.values()
        if len({truth[i] for i in members}) == 1 and true_groups[truth[next(iter(members))]] == members
    )
    return good / len(truth)


def test_grouping_accuracy_on_a_labelled_sample() -> None:
    samples = []
    for i in range(40):
        samples += [
            ("A", f"Accepted password for user{i % 5} from 10.1.{i}.{i + 1} port {40000 + i} ssh2"),
            ("B", f"Connection closed by 10.1.{i}.2 port {50000 + i} [preauth]"),
            ("C", f"PacketResponder {i % 3} for block blk_{i * 7919} terminating"),
            ("D", f"Received block blk_{i * 104729} of size {i * 1024} from /10.250.{i}.9"),
        ]
        if i % 4 == 0:
            samples.append(("E", f"session opened for user root by (uid={i})"))
    truth = [label for label, _ in samples]
    predicted = LogTemplateMiner().add_many([text for _, text in samples])
    assert _grouping_accuracy(truth, predicted) == 1.0


def test_past_the_masking_bound_lines_join_the_cluster_of_their_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mcp_server.log_analysis.templates as templates

    monkeypatch.setattr(templates, "MAX_MASKED_KEYS", 5)
    lines = [f"processed job {i * 7919:016x} in {i}ms" for i in range(1, 200)]
    lines.append("completely different line")
    miner = LogTemplateMiner()
    ids = miner.add_many(lines)
    assert len(set(ids[:-1])) == 1
    assert miner.template(ids[0]) == "processed job <HEX> in <NUM>"
    assert ids[-1] != ids[0]
    assert miner.overflow_keys == 1  # the new shape had no masked twin: grouped exactly


def test_past_drain_capacity_messages_are_grouped_exactly() -> None:
    miner = LogTemplateMiner(max_clusters=3)
    texts = [
        f"{word} happened at step {n}"
        for word in ("alpha", "bravo", "charlie", "delta", "echo")
        for n in (1, 2)
    ]
    texts = [f"{t} {'x ' * i}" for i, t in enumerate(texts)]  # different lengths: no merging in Drain
    ids = miner.add_many(texts)
    assert miner.overflow_keys > 0
    assert any(cluster_id < 0 for cluster_id in ids)
    assert all(miner.template(cluster_id) != "<unknown>" for cluster_id in ids)


def test_a_protocol_name_with_a_digit_stays_a_word_and_names_its_event() -> None:
    # "SOCKS5" holds a digit but names a protocol: it must not be masked as a number and merged
    # with "HTTPS"; ids and versions with digits are still values.
    lines = [f"app{i % 7}.exe - open through proxy 10.0.0.{i}:8080 HTTPS" for i in range(30)]
    lines += [f"app{i}.exe - open through proxy 10.0.1.{i}:1080 SOCKS5" for i in range(3)]
    miner = LogTemplateMiner(strip_headers=False)
    ids = miner.add_many(lines)
    assert len(set(ids[:30])) == 1 and len(set(ids[30:])) == 1 and ids[0] != ids[30]
    assert miner.template(ids[30]) == "<NUM> - open through proxy <IP> SOCKS5"  # not "SOCKS0"


def test_an_optional_parenthesised_size_or_unit_does_not_split_an_event() -> None:
    # The size is restated in KB only for large values, and the lifetime is a time or "<1 sec":
    # token counts differ but it is one event.
    sizes = ["0 bytes", "946 bytes", "1190 bytes (1.16 KB)", "82166 bytes (80.2 KB)"]
    lifetimes = ["00:01", "<1 sec", "02:02"]
    lines = [
        f"close, {sizes[i % 4]} sent, {sizes[(i // 4) % 4]} received, lifetime {lifetimes[i % 3]}"
        for i in range(48)
    ]
    lines += [f"open through proxy 10.0.0.{i}:8080 HTTPS" for i in range(10)]
    miner = LogTemplateMiner(strip_headers=False)
    ids = miner.add_many(lines)
    assert len(set(ids[:48])) == 1 and len(set(ids[48:])) == 1 and ids[0] != ids[48]
    assert miner.template(ids[0]) == "close, <NUM> bytes sent, <NUM> bytes received, lifetime <*>"
