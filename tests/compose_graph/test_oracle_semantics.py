"""compose_graph must read compose files *exactly* like Docker Compose v2: each test builds a
tricky file, runs the real `docker compose config` on it, and compares."""

from __future__ import annotations

import json

import pytest

from mcp_server.compose_graph import (
    ComposeError,
    ComposeGraph,
    DependencyCycleError,
    InterpolationError,
    UnknownServiceError,
    parse_compose,
)
from tests.compose_graph.graph_oracle import (
    compose_config,
    my_dependencies,
    oracle_dependencies,
    oracle_environment,
)

# name -> expression; every one is interpolated by both and compared.
EXPRESSIONS = {
    "dollar_named": "$SET",
    "braced": "${SET}",
    "unset_blank": "x${UNSET}y",
    "soft_default_unset": "${UNSET:-dflt}",
    "soft_default_empty": "${EMPTY:-dflt}",
    "hard_default_empty": "${EMPTY-dflt}",
    "hard_default_unset": "${UNSET-dflt}",
    "soft_default_set": "${SET:-dflt}",
    "alt_set": "${SET:+alt}",
    "alt_empty": "${EMPTY:+alt}",
    "alt_unset": "${UNSET:+alt}",
    "hard_alt_empty": "${EMPTY+alt}",
    "hard_alt_unset": "${UNSET+alt}",
    "escaped_named": "$$SET",
    "escaped_braced": "$${SET}",
    "double_escape": "$$$$",
    "escape_then_var": "$$$SET",
    "surrounded": "pre${SET}post",
    "nested_default": "${UNSET:-${SET}}",
    "deep_nested": "${UNSET:-${ALSO_UNSET:-deep}}",
    "two_in_one": "${SET:-x} and ${NUM}",
    "adjacent": "$SET$NUM",
    "extra_brace": "${SET}}",
    "trailing_dollar": "a$",
    "dollar_digit": "$1",
    "dollar_space": "$ x",
    "required_set": "${SET?must}",
    "required_nonempty_set": "${SET:?must}",
    "required_empty_ok": "${EMPTY?only-if-unset}",
    "default_with_dash": "${UNSET:-a-b}",
    "default_with_colon": "${UNSET:-x:y}",
    "default_empty": "${UNSET:-}",
    "name_run_on": "$SET_suffix",
    "case_sensitive": "${set}",
    "brace_in_default": "${UNSET:-{braces}}",
    "url": "postgres://u:${PW}@db:5432/${UNSET:-app}",
    "spaced_value": "${SPACED}",
    "default_has_dollar_escape": "${UNSET:-$$literal}",
    "default_has_var": "${UNSET:-$SET-x}",
    "question_in_default": "${UNSET:-a?b}",
    "plus_in_default": "${UNSET:-a+b}",
    "dash_in_alt": "${SET:+a-b}",
    "lower_name": "${lower_case:-lc}",
    "underscore_name": "${_UNDER:-u}",
}

ENV_TEXT = "SET=value\nEMPTY=\nSPACED=a b  c\nNUM=5432\nPW=s3cret\nlower_case=lower\n"


def _compose_with_environment(environment: dict[str, str]) -> str:
    # JSON is YAML: values stay exactly as written, no YAML quoting surprises.
    return json.dumps({"services": {"s": {"image": "busybox", "environment": environment}}})


def test_every_interpolation_form_matches_docker_compose() -> None:
    text = _compose_with_environment(EXPRESSIONS)
    oracle = compose_config(text, ENV_TEXT)
    assert oracle.returncode == 0, oracle.stderr
    mine = parse_compose(text, env_file_text=ENV_TEXT).services["s"].environment
    expected = oracle_environment(oracle.data or {})["s"]
    assert mine == expected
    # spot checks so a shared misunderstanding would still show
    assert mine["escaped_braced"] == "${SET}"
    assert mine["nested_default"] == "value"
    assert mine["alt_unset"] == ""


@pytest.mark.parametrize(
    ("expression", "variable"),
    [("${MISSING:?please set it}", "MISSING"), ("${EMPTY:?no empty}", "EMPTY"), ("${MISSING?x}", "MISSING")],
)
def test_missing_required_variable_fails_like_compose_and_names_var_and_line(
    expression: str, variable: str
) -> None:
    text = f"services:\n  s:\n    image: busybox\n    environment:\n      - OK=1\n      - V={expression}\n"
    oracle = compose_config(text, "EMPTY=\n")
    assert oracle.returncode != 0
    assert f"required variable {variable} is missing a value" in oracle.error
    with pytest.raises(InterpolationError) as info:
        parse_compose(text, env_file_text="EMPTY=\n")
    assert info.value.variable == variable
    assert info.value.line == 6
    assert f'required variable "{variable}"' in str(info.value)
    assert "line 6" in str(info.value)


def test_invalid_template_fails_like_compose() -> None:
    text = 'services:\n  s:\n    image: busybox\n    environment:\n      A: "${NOT VALID}"\n'
    oracle = compose_config(text)
    assert oracle.returncode != 0
    assert "invalid interpolation format" in oracle.stderr
    with pytest.raises(InterpolationError) as info:
        parse_compose(text)
    assert info.value.line == 5
    assert "invalid interpolation format in '${NOT VALID}'" in str(info.value)


DOTENV = r"""# a comment line
export EXPORTED=yes
PLAIN=plain value # trailing comment
HASH=a#b
QUOTED_S='single $PLAIN # kept'
QUOTED_D="double ${PLAIN} \"q\" tab\tend"
MULTI="line1
line2"
REF=${PLAIN}-ref
REF_DEFAULT=${NOPE:-fallback}
COLON: yaml-style
   INDENTED=  spaced
EMPTY=
INHERIT
BACKSLASH_UNQUOTED=\$literal
ESCAPED_DOLLAR="\$escaped"
DOUBLE_DOLLAR=$$kept
OCTAL="\0101"
DOT.KEY=dotted
DASH-KEY=dashed
LAST=end"""


def test_dotenv_parsing_matches_docker_compose() -> None:
    keys = [
        "EXPORTED",
        "PLAIN",
        "HASH",
        "QUOTED_S",
        "QUOTED_D",
        "MULTI",
        "REF",
        "REF_DEFAULT",
        "COLON",
        "INDENTED",
        "EMPTY",
        "INHERIT",
        "BACKSLASH_UNQUOTED",
        "ESCAPED_DOLLAR",
        "DOUBLE_DOLLAR",
        "OCTAL",
        "LAST",
    ]
    environment = {key: f"${{{key}-<unset>}}" for key in keys}
    text = _compose_with_environment(environment)
    oracle = compose_config(text, DOTENV)
    assert oracle.returncode == 0, oracle.stderr
    mine = parse_compose(text, env_file_text=DOTENV).services["s"].environment
    assert mine == oracle_environment(oracle.data or {})["s"]
    assert mine["MULTI"] == "line1\nline2"
    assert mine["INHERIT"] == "<unset>"


def test_yaml_scalars_are_read_like_go_yaml() -> None:
    # Compose reads YAML with Go's yaml.v3: yes/on stay strings, 0755 is octal, 1_000 is 1000 …
    values = [
        "yes", "on", "0755", "10:30", "1e3", "0x1F", ".5", "~", "true", "False", "007", "1_000",
        "0o17", "+1", "-0", "1.0", ".inf", "0b101", "12345678901234567890", "1.50", "1e20", "0.1",
        "NULL", "1.", "1234567.0", "0.00001", "08", "-0.0", "18446744073709551616", "1.5e-7", "",
    ]  # fmt: skip
    lines = [f"      K{i}: {value}" for i, value in enumerate(values)]
    text = "services:\n  s:\n    image: busybox\n    environment:\n" + "\n".join(lines) + "\n"
    oracle = compose_config(text)
    assert oracle.returncode == 0, oracle.stderr
    mine = parse_compose(text).services["s"].environment
    assert mine == oracle_environment(oracle.data or {})["s"]
    assert mine["K0"] == "yes" and mine["K2"] == "493" and mine["K7"] is None


DEPENDENCY_FORMS = """
x-common: &common
  image: busybox
  depends_on:
    cache:
      condition: service_healthy
services:
  app:
    <<: *common
    links: ["db:database", "cache", "db"]
    volumes_from: ["data:ro", "container:not-a-service", "logs"]
    network_mode: "service:net"
    ipc: service:ipc-holder
    pid: "service:data"
  worker:
    image: busybox
    depends_on:
      db: {condition: service_completed_successfully, required: false, restart: true}
      cache: {condition: service_started}
    links: [db]
  db: {image: postgres:16}
  cache: {image: redis:7, healthcheck: {test: ["CMD", "true"]}}
  data: {image: busybox}
  logs: {image: busybox}
  net: {image: busybox}
  ipc-holder: {image: busybox}
"""


def test_every_explicit_dependency_form_matches_docker_compose() -> None:
    oracle = compose_config(DEPENDENCY_FORMS)
    assert oracle.returncode == 0, oracle.stderr
    graph = ComposeGraph.from_text(DEPENDENCY_FORMS)
    assert my_dependencies(graph) == oracle_dependencies(oracle.data or {})
    assert set(graph.depends_on("app")) == {"cache", "db", "data", "logs", "net", "ipc-holder"}
    assert "not-a-service" not in graph.depends_on("app")


@pytest.mark.parametrize(
    ("snippet", "via", "line"),
    [
        ("depends_on: [ghost]", "depends_on", 5),
        ("depends_on:\n      ghost: {condition: service_started, required: false}", "depends_on", 6),
        ("links: ['ghost:alias']", "links", 5),
        ("volumes_from: ['ghost:ro']", "volumes_from", 5),
        ("network_mode: service:ghost", "network_mode", 5),
    ],
)
def test_unknown_service_fails_like_compose_with_name_and_line(snippet: str, via: str, line: int) -> None:
    text = f"services:\n  other: {{image: busybox}}\n  app:\n    image: busybox\n    {snippet}\n"
    oracle = compose_config(text)
    assert oracle.returncode != 0
    assert 'service "app" depends on undefined service "ghost"' in oracle.error
    with pytest.raises(UnknownServiceError) as info:
        parse_compose(text)
    assert (info.value.service, info.value.unknown, info.value.via, info.value.line) == (
        "app",
        "ghost",
        via,
        line,
    )
    assert f"line {line}" in str(info.value) and '"ghost"' in str(info.value)


def test_cycle_fails_like_compose_and_names_the_cycle() -> None:
    text = (
        "services:\n  a: {image: busybox, depends_on: [b]}\n  b: {image: busybox, depends_on: [c]}\n"
        "  c: {image: busybox, links: [a]}\n  d: {image: busybox}\n"
    )
    oracle = compose_config(text)
    assert oracle.returncode != 0
    assert "dependency cycle detected" in oracle.error
    graph = ComposeGraph.from_text(text)  # loading works; only ordering is impossible
    with pytest.raises(DependencyCycleError) as info:
        graph.start_order()
    assert info.value.cycle == ["a", "b", "c", "a"]
    assert info.value.line == 2
    assert "a -> b -> c -> a" in str(info.value)


EXTENDS = """
services:
  base:
    image: x
    depends_on: [c]
    environment: {A: "1", B: "2"}
    healthcheck: {test: [CMD, "true"]}
  mid: {extends: base, links: [d], environment: [B=3]}
  app:
    extends: {service: mid}
    image: y
    depends_on:
      c: {condition: service_healthy}
  c: {image: x}
  d: {image: x}
"""


def test_extends_in_the_same_file_matches_docker_compose() -> None:
    oracle = compose_config(EXTENDS)
    assert oracle.returncode == 0, oracle.stderr
    graph = ComposeGraph.from_text(EXTENDS)
    data = oracle.data or {}
    assert my_dependencies(graph) == oracle_dependencies(data)
    assert {s: graph.project.services[s].environment for s in graph.services} == oracle_environment(data)
    assert graph.project.services["app"].image == "y" and graph.project.services["mid"].image == "x"
    assert graph.depends_on("app") == ["c", "d"]
    assert not any(f.code == "no-healthcheck" and f.service == "app" for f in graph.findings())


@pytest.mark.parametrize(
    ("text", "oracle_says", "mine_says", "line"),
    [
        (
            "services:\n  a: {image: x, depends_on: [b, b]}\n  b: {image: x}\n",
            "are equal",
            "lists 'b' twice",
            2,
        ),
        (
            "services:\n  a:\n    image: x\n    depends_on:\n"
            "      b: {condition: service_started, required: '${REQ}'}\n  b: {image: x}\n",
            "required must be a boolean",
            "required must be true or false",
            5,
        ),
        (
            "services:\n  a:\n  b: {image: x}\n",
            "services.a must be a mapping",
            'service "a" must be a mapping',
            2,
        ),
        # compose reports the loop from whichever service its map iteration reaches first
        ("services:\n  a: {extends: b}\n  b: {extends: a}\n", "extends ", "extends loop: a -> b -> a", 3),
        ("services:\n  a: {extends: zz}\n", 'service "zz" not found', 'extends undefined service "zz"', 2),
    ],
)
def test_invalid_files_are_refused_by_both(text: str, oracle_says: str, mine_says: str, line: int) -> None:
    oracle = compose_config(text, "REQ=false\n")
    assert oracle.returncode != 0
    assert oracle_says in oracle.error
    with pytest.raises(ComposeError) as info:
        parse_compose(text, env_file_text="REQ=false\n")
    assert mine_says in str(info.value)
    assert info.value.line == line
