"""Header learning, host masking and event-word splits: formats the fixed patterns did not know."""

from __future__ import annotations

import random
from collections import defaultdict

from mcp_server.log_analysis.headers import HeaderFormat, learn_header
from mcp_server.log_analysis.masks import mask, mask_many
from mcp_server.log_analysis.templates import LogTemplateMiner


def _grouping_accuracy(truth: list[str], predicted: list[int]) -> float:
    """Share of lines whose predicted group is exactly their true group (Loghub's GA)."""
    true_groups: dict[str, set[int]] = defaultdict(set)
    predicted_groups: dict[int, set[int]] = defaultdict(set)
    for index, (label, cluster) in enumerate(zip(truth, predicted, strict=True)):
        true_groups[label].add(index)
        predicted_groups[cluster].add(index)
    good = sum(
        len(members)
        for members in predicted_groups.values()
        if len({truth[i] for i in members}) == 1 and true_groups[truth[next(iter(members))]] == members
    )
    return good / len(truth)


def _pipe_joined_log(rng: random.Random) -> list[tuple[str, str]]:
    """HealthApp-style lines: `time|component|pid|message`, nine events over four components."""
    events = [
        ("step", "Step_LSC", lambda: f"onStandStepChanged {rng.randint(1, 9999)}"),
        ("extend", "Step_LSC", lambda: f"onExtend:{rng.randint(10**12, 10**13)} {rng.randint(0, 20)} 0 4"),
        ("screen", "Step_StandReportReceiver", lambda: "onReceive action: android.intent.action.SCREEN_ON"),
        ("alt", "Step_ExtSDM", lambda: f"calculateAltitudeWithCache totalAltitude={rng.randint(1, 500)}"),
        ("cal", "Step_ExtSDM", lambda: f"calculateCaloriesWithCache totalCalories={rng.randint(1, 99999)}"),
        ("flush", "Step_SPUtils", lambda: "flush sensor data"),
        ("report", "Step_SPUtils", lambda: f"REPORT : {rng.randint(1, 9)} {rng.randint(1, 9)} 0 0"),
        ("tick", "Step_LSC", lambda: "processHandleBroadcastAction action:android.intent.action.TIME_TICK"),
        ("upload", "Step_SPUtils", lambda: f"upload data size={rng.randint(1, 900)} ok"),
    ]
    lines = []
    for n in range(600):
        label, component, message = events[n % len(events)] if n < 90 else rng.choice(events)
        stamp = f"201712{rng.randint(10, 31)}-{rng.randint(0, 23)}:{rng.randint(0, 59)}:{rng.randint(0, 59)}:{rng.randint(0, 999)}"
        lines.append((label, f"{stamp}|{component}|{rng.randint(30000000, 30009999)}|{message()}"))
    return lines


def test_pipe_joined_headers_are_learned_and_each_event_is_one_group() -> None:
    labelled = _pipe_joined_log(random.Random(3))
    miner = LogTemplateMiner()
    ids = miner.add_many([line for _, line in labelled])
    assert _grouping_accuracy([label for label, _ in labelled], ids) == 1.0
    assert miner.header is not None
    templates = {miner.template(cluster_id) for cluster_id in ids}
    assert "flush sensor data" in templates
    assert "onStandStepChanged <NUM>" in templates
    assert not any("Step_" in template or "|" in template for template in templates)


def test_the_event_word_after_a_learned_header_stays_in_the_message() -> None:
    # HPC-style: id, node, component, state, epoch, flag, then the message. A generic header
    # pattern ate part of this and left the event word where Drain makes it a parameter.
    rng = random.Random(5)
    events = [
        ("link", "Link error on broadcast tree Interconnect-{}T00:00:1:0"),
        ("fan", "Fan speeds ( {} 3534 3375 3515 3479 )"),
        ("psu", "PSU status ( on {} )"),
        ("temp", "Temperature ( {} C ) exceeds warning threshold"),
        ("boot", "boot command completed in {} ms"),
        ("state", "Component State Change: Component alt{} is in the unavailable state"),
    ]
    labelled = [
        (
            label,
            f"{rng.randint(1, 999999)} node-{rng.randint(1, 300)} unix.hw state_change.{rng.choice(['up', 'down'])} "
            f"{rng.randint(10**9, 2 * 10**9)} 1 " + template.format(rng.randint(0, 9)),
        )
        for label, template in (rng.choice(events) for _ in range(300))
    ]
    miner = LogTemplateMiner()
    ids = miner.add_many([line for _, line in labelled])
    assert miner.header == HeaderFormat(("V", "V", "W", "W", "V", "V"))
    assert _grouping_accuracy([label for label, _ in labelled], ids) == 1.0
    assert {miner.template(i) for i in ids} >= {
        "PSU status ( on <NUM> )",
        "boot command completed in <NUM>ms",
    }


def test_learned_kinds_for_common_formats() -> None:
    words = [
        "started",
        "stopped",
        "paused",
        "resumed",
        "failed",
        "retried",
        "queued",
        "skipped",
        "sent",
        "read",
    ]
    python = [
        f"2026-11-25 09:00:{i:02d},000 INFO [worker-{i}] app.jobs: job {word}" for i, word in enumerate(words)
    ]
    assert learn_header(mask_many(python)) == HeaderFormat(("T", "L", "B", "C"))
    # The host is a word on some lines and holds a number on others: kind M (it stays header).
    syslog = [
        f"Dec 10 06:55:{i:02d} {f'web-{i}' if i % 3 else 'gateway'} sshd[{2400 + i}]: session {word} for root"
        for i, word in enumerate(words)
    ]
    assert learn_header(mask_many(syslog)) == HeaderFormat(("T", "M", "C"))


def test_plain_messages_have_no_header_and_few_lines_teach_nothing() -> None:
    plain = [f"{word} request handled for {word}" for word in ("alpha", "bravo", "charlie", "delta") * 5]
    assert learn_header(mask_many(plain)) is None
    assert learn_header(mask_many(["2026-11-25 09:00:00 INFO a: b"] * 20)) is None  # one distinct line


def test_a_line_without_the_learned_header_falls_back_to_generic_stripping() -> None:
    header = HeaderFormat(("T", "L", "C"))
    assert header.strip(mask("2026-11-25 09:00:00 ERROR db: pool exhausted")) == "pool exhausted"
    # Another program's line in the same log: generic stripping still removes its header.
    assert header.strip(mask("[2026-11-25 09:00:00] [error] upstream timed out")) == "upstream timed out"
    # Up to two extra words before a delimiter field (a program name with a space).
    proxy = HeaderFormat(("T", "W", "P"))  # "[10.30 16:49:06]" holds a time: kind T
    assert proxy.strip(mask("[10.30 16:49:06] chrome.exe *64 - open through proxy")) == "open through proxy"


def test_host_names_are_masked_so_one_event_is_one_group() -> None:
    rng = random.Random(11)
    hosts = [f"{name}.example.com" for name in ("www", "api", "cdn", "static", "img")] + [
        "proxy.cse.cuhk.edu.hk",
        "mail.google.com",
        "db.internal",
    ]
    lines = [
        f"[10.30 16:49:{i % 60:02d}] chrome.exe - {rng.choice(hosts)}:{rng.choice([80, 443, 5070])} "
        f"open through proxy {rng.choice(hosts)}:5070 HTTPS"
        for i in range(200)
    ]
    miner = LogTemplateMiner()
    ids = miner.add_many(lines)
    assert len(set(ids)) == 1
    assert "<HOST> HTTPS" in miner.template(ids[0])


def test_host_mask_spares_class_file_and_key_names() -> None:
    assert mask("connect to db.internal:5432 failed") == "connect to <HOST> failed"
    assert mask("GET www.example.com and mail.example.de") == "GET <HOST> and <HOST>"
    assert mask("at org.apache.App.run(Main.java:42)") == "at org.apache.App.run(Main.java:<NUM>)"
    assert mask("loaded app.py and settings.yaml") == "loaded app.py and settings.yaml"
    assert mask("mapred.job.id is deprecated") == "mapred.job.id is deprecated"


def test_event_words_split_a_template_but_many_values_stay_a_parameter() -> None:
    lines = []
    for i in range(40):
        lines.append(
            f"[instance: {i:08x}-0000-4000-8000-{i:012x}] VM {'Paused' if i % 2 else 'Resumed'} (Lifecycle Event)"
        )
        lines.append(f"session opened for user {['alice', 'bob', 'carol', 'dave', 'erin'][i % 5]} by uid={i}")
    miner = LogTemplateMiner()
    ids = miner.add_many(lines)
    vm_paused, vm_resumed = ids[2], ids[0]
    assert vm_paused != vm_resumed
    assert miner.template(vm_paused) == "VM Paused (Lifecycle Event)"  # "[instance: ...]" is a header part
    assert len({ids[i] for i in range(1, 80, 2)}) == 1  # five user names: a parameter
    assert miner.template(ids[1]) == "session opened for user <*> by uid=<NUM>"


def test_a_slot_with_a_few_capitalised_words_splits_but_a_few_user_names_do_not() -> None:
    states = ["Paused", "Resumed", "Started", "Stopped"]
    users = ["cyrus", "news", "test", "root"]  # as few and as repeated, but lowercase names
    lines = []
    for i in range(80):
        lines.append(f"[instance: {i:08x}-0000-4000-8000-{i:012x}] VM {states[i % 4]} (Lifecycle Event)")
        lines.append(f"session opened for user {users[i % 4]} by uid={i}")
    miner = LogTemplateMiner()
    ids = miner.add_many(lines)
    vm_ids = [ids[i] for i in range(0, 160, 2)]
    assert vm_ids[:4] == vm_ids[4:8] and len(set(vm_ids)) == 4
    assert miner.template(vm_ids[3]) == "VM Stopped (Lifecycle Event)"
    assert len({ids[i] for i in range(1, 160, 2)}) == 1
    assert miner.template(ids[1]) == "session opened for user <*> by uid=<NUM>"


def test_http_methods_always_split_a_template() -> None:
    methods = ["GET", "POST", "DELETE", "PUT"]
    lines = [
        f'10.0.0.{i} "{methods[i % 4]} /v2/{i:032x}/servers HTTP/1.1" status: 200 len: {i * 7} time: 0.{i:03d}'
        for i in range(40)
    ]
    miner = LogTemplateMiner()
    ids = miner.add_many(lines)
    assert len(set(ids)) == 4
    assert [ids[i] for i in range(4)] == [ids[i] for i in range(4, 8)]
    assert miner.template(ids[1]).startswith('"POST ')  # the client IP starts every line: a header
