"""`infraguardian-mcp`: the MCP server's command line.

Sub-commands give users and scripts the server's analyses without an MCP client. Every error is
one line on stderr with a non-zero exit status; secrets in output are redacted.
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
from typing import Any

import click

from mcp_server import __version__

# Sub-commands that live with their feature: name -> ("module:attribute", one-line help).
# The module is imported only when its command runs (or shows its own --help), so `--help` and
# every other command start without loading the MCP SDK, the Docker client or the detectors.
# The help text is what `--help` lists; tests/test_cli.py checks it against each command's own.
FEATURE_COMMANDS: dict[str, tuple[str, str]] = {
    "digest": (
        "mcp_server.log_analysis.cli:digest",
        "Summarise a log (FILE, or - for stdin): errors, templates, stack traces, last lines.",
    ),
    "graph": (
        "mcp_server.compose_graph.cli:graph",
        "Show start order, dependencies (declared and implicit), blast radius, service kinds and "
        "findings (missing memory limits / health checks) of a compose FILE.",
    ),
    "serve": (
        "mcp_server.server.serve_cli:serve",
        "Run the MCP server (stdio by default; HTTP transports need a bearer token).",
    ),
    "status": (
        "mcp_server.status:status",
        "Show what runs on the Docker engine, grouped by Dokploy appName, with health and the "
        "problems the detectors see (recent OOM kills and crashes, unhealthy containers, disks).",
    ),
    "templates": (
        "mcp_server.log_analysis.templates_cli:templates",
        "Group a log's lines (FILE, or - for stdin) into templates, with counts.",
    ),
    "watch": (
        "mcp_server.watcher.cli:watch",
        "Run the detectors of this Docker host and keep signals in the state store (long-running).",
    ),
}


COLLECTOR_PAUSED = frozenset({"status"})
"""One-shot commands that run with the cyclic garbage collector paused, their imports included.
Loading pydantic, the settings and the models creates a few hundred thousand long-lived objects,
and the collector scanned them over and over: 50-150 ms of `status`'s ~0.5 s of CPU. Reference
counting still frees almost everything, and the process ends a moment later."""


def _resume_collector() -> None:
    """Turn the collector back on without a last scan of everything the command left alive (the
    first collection would take ~0.1 s, just before the process ends): those objects are frozen,
    i.e. left out of later collections."""
    gc.freeze()
    gc.enable()


class LazyGroup(click.Group):
    """A group whose feature sub-commands (FEATURE_COMMANDS) are imported only when used."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in COLLECTOR_PAUSED and gc.isenabled():
            gc.disable()
            ctx.call_on_close(_resume_collector)  # when the command is done, however it ends
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *FEATURE_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in FEATURE_COMMANDS:
            return command
        module_name, attribute = FEATURE_COMMANDS[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{FEATURE_COMMANDS[cmd_name][0]} is not a click command")
        self.add_command(command, cmd_name)  # imported once per process
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`, from the table for feature commands (no import)."""
        rows: list[tuple[str, str]] = []
        limit = formatter.width - 6 - max((len(name) for name in self.list_commands(ctx)), default=0)
        for name in self.list_commands(ctx):
            if name in FEATURE_COMMANDS and name not in self.commands:
                stand_in = click.Command(name, help=FEATURE_COMMANDS[name][1])  # same shortening
                rows.append((name, stand_in.get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def fail(message: str, code: int = 1) -> None:
    """Print one line to stderr and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    import anyio

    from mcp_server.dokploy import DokployClient, DokployError
    from mcp_server.redaction import redact, redact_text
    from mcp_server.settings import SettingsError, load_settings

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
    import anyio

    from mcp_server.dokploy import DokployClient, DokployError, OperationTable
    from mcp_server.dokploy.openapi import OpenApiDocumentError
    from mcp_server.settings import SettingsError, load_settings

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
