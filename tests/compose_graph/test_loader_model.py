"""Reading compose files: errors with lines, shape checks, merge keys, env and env_file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.compose_graph import (
    ComposeError,
    ComposeGraph,
    ComposeStructureError,
    ComposeYAMLError,
    EnvFileError,
    parse_compose,
)
from mcp_server.compose_graph.loader import load_yaml


def test_malformed_yaml_reports_the_line() -> None:
    text = "services:\n  web:\n    image: nginx\n   bad: [unclosed\n"
    with pytest.raises(ComposeYAMLError) as info:
        parse_compose(text)
    assert info.value.line == 4
    assert str(info.value).startswith("line 4: invalid YAML")


def test_unclosed_flow_sequence_reports_where_parsing_stopped() -> None:
    with pytest.raises(ComposeYAMLError) as info:
        parse_compose("services:\n  web:\n    depends_on: [db\n  db:\n    image: x\n")
    assert info.value.line is not None and info.value.line >= 3


def test_duplicate_keys_are_refused_like_compose() -> None:
    with pytest.raises(ComposeYAMLError) as info:
        parse_compose("services:\n  web:\n    image: a\n    image: b\n")
    assert info.value.line == 4
    assert "'image' already defined at line 3" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("- just\n- a list\n", "top level of a compose file must be a mapping", 1),
        ("version: '3'\nvolumes: {}\n", "no `services` section", 1),
        ("", "the compose file is empty", None),
        ("services:\n  - web\n", "`services` must be a mapping", 1),
        ("services:\n  web: nginx\n", 'service "web" must be a mapping', 2),
        ("services:\n  web:\n    depends_on: db\n", "depends_on must be a list", 3),
        (
            "services:\n  web:\n    depends_on:\n      db: {condition: service_ready}\n  db: {}\n",
            "condition must be one of",
            4,
        ),
        ("services:\n  web:\n    depends_on:\n      db:\n  db: {}\n", "depends_on.db must be a mapping", 4),
        (
            "services:\n  web:\n    depends_on:\n"
            "      db: {condition: service_started, required: maybe}\n  db: {}\n",
            "required must be true or false",
            4,
        ),
        ("services:\n  web:\n    environment: 3\n", "environment must be a list or a mapping", 3),
    ],
)
def test_structure_errors_are_clear_and_located(text: str, message: str, line: int | None) -> None:
    with pytest.raises(ComposeStructureError) as info:
        parse_compose(text)
    assert message in str(info.value)
    assert info.value.line == line


def test_every_error_is_a_compose_error_with_one_line_message() -> None:
    for text in ("a: [", "services: 3", "services:\n  a: {depends_on: [b]}\n"):
        with pytest.raises(ComposeError) as info:
            parse_compose(text)
        assert "\n" not in str(info.value)


def test_lines_are_tracked_through_merge_keys_and_explicit_keys_win() -> None:
    text = (
        "x-base: &base\n"  # 1
        "  image: base\n"  # 2
        "  environment: {FROM: base}\n"  # 3
        "services:\n"  # 4
        "  web:\n"  # 5
        "    <<: *base\n"  # 6
        "    image: mine\n"  # 7
    )
    doc = load_yaml(text)
    web = doc.data["services"]["web"]
    assert web == {"image": "mine", "environment": {"FROM": "base"}}
    assert doc.line(("services", "web", "image")) == 7
    assert doc.line(("services", "web", "environment")) == 3  # where the merged value lives
    assert doc.line(("services", "web")) == 5


def test_merge_list_earlier_source_wins() -> None:
    text = "a: &a {k: 1}\nb: &b {k: 2, j: 3}\nc:\n  <<: [*a, *b]\n"
    assert load_yaml(text).data["c"] == {"k": 1, "j": 3}


def test_unknown_tags_like_reset_do_not_crash() -> None:
    project = parse_compose("services:\n  web:\n    image: x\n    depends_on: !reset []\n")
    assert project.services["web"].dependencies == []


def test_environment_forms_and_bare_keys_from_env() -> None:
    text = (
        "services:\n"
        "  a:\n    environment: [X=1, 'Y=a=b', FROM_ENV, NOT_SET]\n"
        "  b:\n    environment: {N: 5432, T: true, F: 1.5, FROM_ENV: , NULL_KEY: null}\n"
    )
    project = parse_compose(text, env={"FROM_ENV": "shell"})
    assert project.services["a"].environment == {"X": "1", "Y": "a=b", "FROM_ENV": "shell", "NOT_SET": None}
    assert project.services["b"].environment == {
        "N": "5432",
        "T": "true",
        "F": "1.5",
        "FROM_ENV": "shell",
        "NULL_KEY": None,
    }


def test_given_env_wins_over_env_file_like_the_shell_does() -> None:
    project = parse_compose(
        "services:\n  a:\n    image: ${IMG}\n", env={"IMG": "from-shell"}, env_file_text="IMG=from-file\n"
    )
    assert project.services["a"].image == "from-shell"


def test_unset_variables_are_recorded_with_lines() -> None:
    project = parse_compose("services:\n  a:\n    image: busybox\n    command: echo ${NOPE}\n")
    assert project.unset_variables == [("NOPE", 4)]


def test_from_file_reads_dotenv_next_to_it_and_service_env_files(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAG=16\n")
    (tmp_path / "app.env").write_text("DATABASE_URL=postgres://u:p@db:5432/x\nOVERRIDDEN=file\n")
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n"
        "  db: {image: 'postgres:${TAG}'}\n"
        "  app:\n    image: app\n    env_file: [app.env, {path: optional.env, required: false}]\n"
        "    environment: {OVERRIDDEN: compose}\n"
        "  other:\n    image: app\n    env_file: missing.env\n"
    )
    graph = ComposeGraph.from_file(compose)
    assert graph.project.services["db"].image == "postgres:16"
    app = graph.project.services["app"]
    assert app.environment["OVERRIDDEN"] == "compose"
    assert [(d.service, d.evidence, d.source) for d in graph.implicit_dependencies("app")] == [
        ("db", "DATABASE_URL", "env_file")
    ]
    missing = [f for f in graph.findings() if f.code == "env-file-missing"]
    assert [(f.service, f.line) for f in missing] == [("other", 9)]


def test_from_file_errors_name_the_file(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  a: {image: x, depends_on: [ghost]}\n")
    with pytest.raises(ComposeError) as info:
        ComposeGraph.from_file(compose)
    assert str(info.value).startswith(f"{compose}:2: ")
    with pytest.raises(ComposeError, match="cannot read compose file"):
        ComposeGraph.from_file(tmp_path / "nope.yml")
    (tmp_path / "bad.env").write_text("OK=1\nBAD KEY=2\n")
    with pytest.raises(EnvFileError) as env_info:
        ComposeGraph.from_file(compose, env_file=tmp_path / "bad.env")
    assert str(env_info.value).startswith(f"{tmp_path / 'bad.env'}:2: ")
