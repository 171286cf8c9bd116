"""`templates` command: show how a log's lines group into templates (what the digest groups).

    infraguardian-mcp templates app.log                  # templates with counts, most frequent first
    infraguardian-mcp templates --per-line app.log       # line number, template id, template per line
    docker logs web 2>&1 | infraguardian-mcp templates --per-line --json -   # JSON Lines, in order

Template ids are ranks: 1 is the most frequent template (ties: the one seen first). Secrets are
masked before mining (`redact_lines`), so neither templates nor examples can show one. Errors
(missing file, a directory, binary input) are one line on stderr and exit status 1.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

import click

from mcp_server.redaction import redact_lines, redact_text

from .lines import LogLines, lines_from_file, lines_from_stream
from .templates import LogTemplateMiner

_SNIFF_BYTES = 8192
EXAMPLE_CHARS = 500


@dataclass
class MinedTemplate:
    """One template of a log: its rank id, text, line count, first line and an example line."""

    template_id: int
    template: str
    count: int
    first_line: int
    example: str


@dataclass
class MinedLog:
    """Templates of a log (most frequent first) and the template id of each analysed line."""

    log: LogLines
    templates: list[MinedTemplate]
    line_ids: list[int]  # template id of log.messages[i]

    def per_line(self) -> Iterator[tuple[int, MinedTemplate]]:
        """(1-based line number in the input, template) for every analysed line, in order."""
        by_id = {template.template_id: template for template in self.templates}
        for index, template_id in enumerate(self.line_ids):
            yield self.log.line_number(index), by_id[template_id]


def mine_log(log: LogLines) -> MinedLog:
    """Mine the lines of `log` (redact them first); ids are ranks by count, then first line."""
    messages = log.messages
    miner = LogTemplateMiner()
    cluster_ids = miner.add_many(messages) if messages else []
    counts = Counter(cluster_ids)
    first_index: dict[int, int] = {}
    for index, cluster_id in enumerate(cluster_ids):
        first_index.setdefault(cluster_id, index)
    ranked = sorted(counts, key=lambda cluster_id: (-counts[cluster_id], first_index[cluster_id]))
    rank_of = {cluster_id: rank for rank, cluster_id in enumerate(ranked, start=1)}
    templates = [
        MinedTemplate(
            template_id=rank_of[cluster_id],
            # Redacted again: a template joins tokens, which may look like a secret only together.
            template=redact_text(miner.template(cluster_id)),
            count=counts[cluster_id],
            first_line=log.line_number(first_index[cluster_id]),
            example=messages[first_index[cluster_id]][:EXAMPLE_CHARS],
        )
        for cluster_id in ranked
    ]
    return MinedLog(log, templates, [rank_of[cluster_id] for cluster_id in cluster_ids])


class _Prefixed:
    """A binary stream whose first bytes were already read (to sniff them)."""

    def __init__(self, first: bytes, rest: BinaryIO) -> None:
        self._first = first
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._first:
            first, self._first = self._first, b""
            return first
        return self._rest.read(size)


def _read(file: str) -> LogLines:
    """The lines of FILE (or stdin for "-"); one-line ClickException for anything unreadable."""
    try:
        if file == "-":
            first = sys.stdin.buffer.read(_SNIFF_BYTES)
            if b"\0" in first:
                raise click.ClickException("stdin looks binary (it holds NUL bytes); send a text log")
            return lines_from_stream(cast(BinaryIO, _Prefixed(first, sys.stdin.buffer)))
        with open(file, "rb") as handle:
            if b"\0" in handle.read(_SNIFF_BYTES):
                raise click.ClickException(f"{file} looks binary (it holds NUL bytes); give a text log file")
        log = lines_from_file(file)
    except FileNotFoundError:
        raise click.ClickException(f"no such file: {file}") from None
    except IsADirectoryError:
        raise click.ClickException(f"{file} is a directory, give a log file") from None
    except PermissionError:
        raise click.ClickException(f"permission denied reading {file}") from None
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror or error}") from None
    if log.looks_binary:
        raise click.ClickException(f"{file} looks binary (mostly invalid UTF-8); give a text log file")
    return log


@click.command("templates")
@click.argument("file", metavar="FILE|-")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with --per-line: one object per line).")
@click.option("--per-line", is_flag=True, help="Print, for every line, the template it fell in.")
def templates(file: str, as_json: bool, per_line: bool) -> None:
    """Group a log's lines (FILE, or - for stdin) into templates, with counts."""
    log = _read(file)
    mined = mine_log(dataclasses.replace(log, messages=redact_lines(log.messages)))
    if per_line:
        for line, template in mined.per_line():
            if as_json:
                record = {"line": line, "template_id": template.template_id, "template": template.template}
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                click.echo(f"{line}\t{template.template_id}\t{template.template}")
        return
    notes = log.describe_drops()
    if as_json:
        document = {
            "lines": log.total_lines,
            "analysed_lines": len(log.messages),
            "templates": [dataclasses.asdict(template) for template in mined.templates],
            "notes": notes,
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(f"{len(log.messages):,} lines, {len(mined.templates):,} templates")
    for template in mined.templates:
        click.echo(f"{template.count:>8,}  #{template.template_id:<4} {template.template}")
    for note in notes:
        click.echo(f"note: {note}")


def main() -> None:
    templates(prog_name="templates")


if __name__ == "__main__":
    main()
