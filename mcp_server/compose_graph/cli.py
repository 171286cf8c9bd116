"""`graph FILE [--env-file F] [--dokploy-template T] [--json]`: the dependency graph of a compose file.

The lead registers `graph` in the `infraguardian-mcp` group; `python -m
mcp_server.compose_graph.cli FILE` runs it alone. Exit codes: 0 ok, 1 the compose file (or its
env) has a problem, printed on stderr as one line `error: …`. Secrets in what is printed (a
password in a service's command, in an error) are masked; service names stay.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mcp_server.compose_graph.dokploy_template import read_template
from mcp_server.compose_graph.errors import ComposeError
from mcp_server.compose_graph.graph import ComposeGraph
from mcp_server.compose_graph.report import GraphReport, build_report, render_text
from mcp_server.redaction import redact_text, redact_values


def _fail(message: str) -> None:
    click.echo(f"error: {redact_text(message)}", err=True)
    sys.exit(1)


@click.command("graph")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Variables for ${...} (default: .env next to FILE, like docker compose).",
)
@click.option(
    "--dokploy-template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take variables from a Dokploy template.toml instead (made-up deterministic secrets).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a summary.")
def graph(file: Path, env_file: Path | None, dokploy_template: Path | None, as_json: bool) -> None:
    """Show start order, dependencies (declared and implicit), blast radius, service kinds
    and findings (missing memory limits / health checks) of a compose FILE."""
    if env_file is not None and dokploy_template is not None:
        _fail("use either --env-file or --dokploy-template, not both")
    try:
        env_file_text = None
        if dokploy_template is not None:
            try:
                toml_text = dokploy_template.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ComposeError(f"cannot read Dokploy template {dokploy_template}: {exc}") from None
            env_file_text = read_template(toml_text).env_file_text()
        compose = ComposeGraph.from_file(file, env_file=env_file, env_file_text=env_file_text)
        # every text in the report masked; keys and service names are names, they stay
        report = GraphReport.model_validate(redact_values(build_report(compose).model_dump(mode="json")))
    except ComposeError as exc:
        _fail(str(exc))
        return
    except Exception as exc:  # a bug must still not dump a traceback on the user
        _fail(f"internal error while analysing {file}: {type(exc).__name__}: {exc}")
        return
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        click.echo(render_text(report, str(file)))


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess test
    graph()
