"""`infraguardian-mcp`: the MCP server's command line.

Sub-commands give users and scripts the server's analyses without an MCP client. Every error is
one line on stderr with a non-zero exit status; secrets in output are redacted.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import anyio
import click

from mcp_server import __version__
from mcp_server.settings import SettingsError, load_settings


def fail(message: str, code: int = 1) -> None:
    """Print one line to stderr and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="infraguardian-mcp")
def main() -> None:
    """InfraGuardian MCP server: Dokploy and Docker operations with a safety policy.

    Configuration: DOKPLOY_URL, DOKPLOY_API_KEY, DOCKER_HOST and INFRAGUARDIAN_* variables,
    or a YAML file named by INFRAGUARDIAN_CONFIG.
    """


@main.group()
def dokploy() -> None:
    """Talk to the configured Dokploy (DOKPLOY_URL, DOKPLOY_API_KEY)."""


def _parse_assignments(pairs: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"argument {pair!r} is not KEY=VALUE (values are parsed as JSON when they can be)", 2)
        key, raw = pair.split("=", 1)
        try:
            data[key] = json.loads(raw)
        except ValueError:
            data[key] = raw
    return data


@dokploy.command("call")
@click.argument("operation")
@click.argument("assignments", nargs=-1)
@click.option("--input", "input_json", help="The whole input as a JSON object.")
@click.option("--reveal", is_flag=True, help="Do not redact secrets in the answer (your terminal only).")
def dokploy_call(operation: str, assignments: tuple[str, ...], input_json: str | None, reveal: bool) -> None:
    """Call any Dokploy operation: `call compose.one composeId=abc`."""
    from mcp_server.dokploy import DokployClient, DokployError
    from mcp_server.redaction import redact, redact_text

    data = _parse_assignments(assignments)
    if input_json:
        try:
            parsed = json.loads(input_json)
        except ValueError as exc:
            fail(f"--input is not valid JSON: {exc}", 2)
        if not isinstance(parsed, dict):
            fail("--input must be a JSON object", 2)
        data = {**parsed, **data}
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)

    async def run() -> Any:
        async with await DokployClient.from_settings(settings) as client:
            return await client.call(operation, data)

    try:
        result = anyio.run(run)
    except DokployError as exc:
        fail(str(exc) if reveal else redact_text(str(exc)))  # an error may quote Dokploy's answer
    click.echo(json.dumps(result if reveal else redact(result), indent=2, ensure_ascii=False))


@dokploy.command("operations")
@click.option("--router", help="Only this router (e.g. compose).")
@click.option("--openapi", "openapi_file", type=click.Path(dir_okay=False), help="Read this OpenAPI file.")
def dokploy_operations(router: str | None, openapi_file: str | None) -> None:
    """List Dokploy operations with their method and input fields."""
    from mcp_server.dokploy import DokployClient, DokployError, OperationTable
    from mcp_server.dokploy.openapi import OpenApiDocumentError

    try:
        if openapi_file:
            table = OperationTable.from_file(openapi_file)
        else:
            settings = load_settings()

            async def run() -> OperationTable:
                async with await DokployClient.from_settings(settings) as client:
                    return client.operations

            table = anyio.run(run)
    except (SettingsError, OpenApiDocumentError, DokployError) as exc:
        fail(str(exc), 2)
    for op in sorted(table, key=lambda o: o.name):
        if router and op.router.lower() != router.lower():
            continue
        click.echo(f"{op.method:4} {op.name:45} {op.field_summary()}")


# Sub-commands that live with their feature; registered here so `--help` lists them all.
_FEATURE_COMMANDS = {
    "status": "mcp_server.status:status",
    "serve": "mcp_server.server.serve_cli:serve",
    "watch": "mcp_server.watcher.cli:watch",
    "graph": "mcp_server.compose_graph.cli:graph",
    "digest": "mcp_server.log_analysis.cli:digest",
}
for _name, _target in _FEATURE_COMMANDS.items():
    _module, _attr = _target.split(":")
    main.add_command(getattr(importlib.import_module(_module), _attr), _name)
