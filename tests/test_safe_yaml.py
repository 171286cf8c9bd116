"""safe_yaml: YAML bombs are refused fast, with one clear line, by every YAML reader of the project.

The bombs are real: loaded with plain PyYAML and walked, the billion-laughs file below is 6 million
values (the 346-byte one from the audit took 37 s and 2.6 GB in `graph`), the merge-key one is
2**30 mapping entries. Each test would hang or run out of memory on the code before safe_yaml;
the time bounds are loose on purpose (refusal takes milliseconds).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mcp_server.compose_edit import EditError as PatchError
from mcp_server.compose_edit import patch_memory, uses_deploy_form
from mcp_server.compose_graph import ComposeGraph, ComposeYAMLError
from mcp_server.compose_graph.cli import graph
from mcp_server.runbooks import RunbookError, RunbookLibrary
from mcp_server.safe_yaml import (
    MAX_BYTES_ENV,
    YAMLLimitError,
    YamlLimits,
    compose_yaml,
    load_yaml,
    measure,
    read_yaml_file,
)
from mcp_server.settings import SettingsError, load_settings
from standins.dokploy.compose_files import ComposeFileError, load_compose

# Billion laughs in a compose file: 7 levels of 9 aliases = 9**7 = 4.8 million "lol"s.
LAUGHS = """services:
  web:
    image: nginx
x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
x-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
x-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
x-d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
x-e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
x-f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
x-g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def merge_bomb(levels: int = 30) -> str:
    """Each level merges the previous one twice: PyYAML's merge flattening doubles the entries."""
    lines = ["services:", "  web:", "    image: nginx", "x-m0: &m0 {k: v}"]
    lines += [f"x-m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: v}}" for i in range(1, levels + 1)]
    lines.append(f"x-top: {{<<: *m{levels}}}")
    return "\n".join(lines) + "\n"


def refused_fast(action: object, expected: type[Exception] = Exception) -> str:
    """Run `action()`; it must raise `expected` within 2 s. Returns the message."""
    start = time.perf_counter()
    with pytest.raises(expected) as caught:
        action()  # type: ignore[operator]
    assert time.perf_counter() - start < 2.0
    return str(caught.value)


def test_billion_laughs_is_refused_with_one_clear_line() -> None:
    message = refused_fast(lambda: load_yaml(LAUGHS, what="the compose file"), YAMLLimitError)
    assert message.startswith("the compose file uses too many aliases (54 alias uses")
    assert "refusing to expand it" in message and "\n" not in message


def test_merge_key_bomb_is_refused() -> None:
    message = refused_fast(lambda: load_yaml(merge_bomb()), YAMLLimitError)
    assert "(61 alias uses expand 194 written nodes to 25,769,803,649;" in message
    message = refused_fast(lambda: load_yaml(merge_bomb(levels=80)), YAMLLimitError)
    assert "nests deeper than 100 levels" in message  # each level nests the previous one twice


def test_huge_expansion_is_never_computed() -> None:
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 30)]
    message = refused_fast(lambda: load_yaml("\n".join(lines)), YAMLLimitError)
    assert "written nodes to astronomically many;" in message  # 10**30 nodes


def test_alias_that_contains_itself_is_refused() -> None:
    message = refused_fast(lambda: load_yaml("a: &x [1, *x]\n"), YAMLLimitError)
    assert "contains itself" in message


def test_deep_nesting_is_refused() -> None:
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(150)) + f"{'  ' * 150}leaf\n"
    message = refused_fast(lambda: load_yaml(deep), YAMLLimitError)
    assert "nests deeper than 100 levels" in message


def test_size_cap_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_BYTES_ENV, "100")
    text = "a: " + "x" * 200 + "\n"
    message = refused_fast(lambda: load_yaml(text, what="the compose file"), YAMLLimitError)
    assert message == (
        "the compose file is 204 bytes, over the 100-byte limit (INFRAGUARDIAN_YAML_MAX_BYTES); "
        "send a smaller file"
    )
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    message = refused_fast(lambda: load_yaml("a: 1\n"), YAMLLimitError)
    assert "INFRAGUARDIAN_YAML_MAX_BYTES='lots' is not valid: set a positive whole number" in message


def test_size_counts_bytes_not_characters() -> None:
    limits = YamlLimits(max_bytes=100)
    assert load_yaml("a: " + "é" * 40 + "\n", limits=limits) == {"a": "é" * 40}  # 84 bytes
    with pytest.raises(YAMLLimitError, match="is 104 bytes"):
        load_yaml("a: " + "é" * 50 + "\n", limits=limits)


def test_big_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"a: " + b"x" * (3 * 1024 * 1024) + b"\n")
    message = refused_fast(lambda: read_yaml_file(big, what="the config file"), YAMLLimitError)
    assert message.startswith("the config file is 3,145,732 bytes, over the 1,048,576-byte limit")


def test_ordinary_anchors_still_work() -> None:
    services = "\n".join(f"  s{i}:\n    <<: *common\n    image: app{i}" for i in range(200))
    text = f"x-common: &common\n  restart: always\n  environment: {{A: '1', B: '2'}}\nservices:\n{services}\n"
    data = load_yaml(text)
    assert data["services"]["s7"] == {
        "restart": "always",
        "environment": {"A": "1", "B": "2"},
        "image": "app7",
    }
    node = compose_yaml(text)
    assert node is not None
    written, expanded = measure(node)
    assert expanded - written == 200 * 9  # each use of the anchor repeats its 9 nodes
    assert ComposeGraph.from_text(text).services[:2] == ["s0", "s1"]


def test_compose_graph_refuses_both_bombs() -> None:
    for bomb in (LAUGHS, merge_bomb()):
        message = refused_fast(lambda b=bomb: ComposeGraph.from_text(b), ComposeYAMLError)
        assert "the compose file uses too many aliases" in message


def test_graph_cli_refuses_the_bomb(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(LAUGHS)
    start = time.perf_counter()
    result = CliRunner().invoke(graph, [str(path)])
    assert time.perf_counter() - start < 2.0
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}: the compose file uses too many aliases")


def test_runbook_bomb_is_refused(tmp_path: Path) -> None:
    (tmp_path / "laughs.yaml").write_text("name: laughs\n" + LAUGHS)
    message = refused_fast(lambda: RunbookLibrary.load(tmp_path), RunbookError)
    assert message.startswith("runbook laughs.yaml uses too many aliases")


def test_settings_file_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(LAUGHS.replace("services:\n  web:\n    image: nginx\n", ""))
    monkeypatch.setenv("INFRAGUARDIAN_CONFIG", str(config))
    message = refused_fast(load_settings, SettingsError)
    assert "the config file uses too many aliases" in message


def test_standin_and_memory_patch_refuse_the_bomb() -> None:
    assert "too many aliases" in refused_fast(lambda: load_compose(LAUGHS), ComposeFileError)
    message = refused_fast(lambda: patch_memory(LAUGHS, "web", "1g", prefer_deploy=False), PatchError)
    assert "too many aliases" in message
    assert uses_deploy_form(merge_bomb()) is False  # bad YAML: not the deploy form


def test_plain_pyyaml_really_expands_the_bomb() -> None:
    """The measure is exact, not pessimistic: walking what PyYAML builds visits every counted node.

    (One level less than LAUGHS, so plain PyYAML can be walked here in a second.)
    """
    smaller = LAUGHS.replace("x-g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", "")

    def count(value: object) -> int:
        if isinstance(value, dict):
            return 1 + sum(1 + count(v) for v in value.values())
        return 1 + sum(count(v) for v in value) if isinstance(value, list) else 1

    walked = count(yaml.safe_load(smaller))
    with pytest.raises(YAMLLimitError) as caught:
        load_yaml(smaller)
    assert walked == 672_616
    assert "expand 28 written nodes to 672,616;" in str(caught.value)
