"""`digest` command: print a bounded digest of a log file or of stdin.

    infraguardian-mcp digest app.log            # text for a model, at most 2000 tokens
    docker logs --timestamps web 2>&1 | infraguardian-mcp digest -
    infraguardian-mcp digest --json --max-tokens 1000 app.log
    infraguardian-mcp digest --exit-code 137 --oom-killed app.log

Errors (missing file, unreadable input) are one line on stderr and exit status 1 or 2.
Secrets are masked before the log is analysed, in every line the digest can show and the lines
around it (`analysis.redact_shown` with `redact_lines`), so no part of the digest, text or JSON,
can show one. The tokenizer is loaded only when the digest could exceed its budget, or for --json
(which reports the exact token count).
"""

from __future__ import annotations

import sys

import click

from mcp_server.redaction import redact_lines

from .analysis import analyse
from .digest import DEFAULT_MAX_TOKENS, MIN_MAX_TOKENS, build_digest
from .lines import lines_from_file, lines_from_stream
from .models import LogDigest
from .render import render_digest


@click.command("digest")
@click.argument("file", metavar="FILE|-")
@click.option("--json", "as_json", is_flag=True, help="Print the structured digest as JSON.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=MIN_MAX_TOKENS),
    default=DEFAULT_MAX_TOKENS,
    show_default=True,
    help="Token budget of the text digest (o200k tokens).",
)
@click.option("--exit-code", type=int, default=None, help="Container exit code, explained in the header.")
@click.option(
    "--oom-killed/--no-oom-killed",
    default=None,
    help="Docker's State.OOMKilled for the exit code (changes what 137 means).",
)
def digest(file: str, as_json: bool, max_tokens: int, exit_code: int | None, oom_killed: bool | None) -> None:
    """Summarise a log (FILE, or - for stdin): errors, templates, stack traces, last lines."""
    try:
        lines = lines_from_stream(sys.stdin.buffer) if file == "-" else lines_from_file(file)
    except FileNotFoundError:
        raise click.ClickException(f"no such file: {file}") from None
    except IsADirectoryError:
        raise click.ClickException(f"{file} is a directory, give a log file") from None
    except PermissionError:
        raise click.ClickException(f"permission denied reading {file}") from None
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror or error}") from None
    analysis = analyse(lines, redact=redact_lines)
    result: LogDigest = build_digest(analysis, max_tokens, exit_code, oom_killed, measure=as_json)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(render_digest(result), nl=False)


def main() -> None:
    digest(prog_name="digest")


if __name__ == "__main__":
    main()
