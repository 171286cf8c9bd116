"""`infraguardian-ollama-standin` (or `python -m standins.ollama`): a scripted Ollama on a local port.

For the incident lab and manual runs: point the agent at it with `OLLAMA_HOST=http://127.0.0.1:PORT`.
It is a command of its own: the product never imports the stand-ins.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..command_line import cannot_listen, serve_until_interrupted


@click.command("infraguardian-ollama-standin")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=11434, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port."
)
@click.option(
    "--script",
    "script_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML or JSON script: a list of turns, or a mapping with turns, rules and default.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="A model to serve (repeatable). Default: gpt-oss:20b and nomic-embed-text.",
)
@click.option(
    "--embedding-dimension", type=click.IntRange(1, 65536), default=None, help="Length of /api/embed vectors."
)
@click.option("--log-requests", is_flag=True, help="Print one line per request: path, model, status, answer.")
def standin(
    host: str,
    port: int,
    script_path: Path | None,
    models: tuple[str, ...],
    embedding_dimension: int | None,
    log_requests: bool,
) -> None:
    """Serve Ollama's HTTP API from a script of model turns."""
    from .catalog import DEFAULT_MODELS, ModelCard  # imported here so `--help` stays fast
    from .records import RecordedRequest
    from .server import OllamaStandIn

    known = {card.key: card for card in DEFAULT_MODELS}
    cards = [known.get(ModelCard(name=m).key, ModelCard(name=m)) for m in models] or None

    def log(record: RecordedRequest) -> None:
        tokens = f" prompt≈{record.prompt_tokens} tokens" if record.prompt_tokens else ""
        click.echo(f"{record.describe()}{tokens}")

    try:
        server = OllamaStandIn(
            host=host,
            port=port,
            models=cards,
            script=script_path,
            embedding_dimension=embedding_dimension,
            on_answered=log if log_requests else None,
        )
    except ValueError as exc:
        raise click.ClickException(f"bad script {script_path}: {exc}") from exc
    except OSError as exc:
        raise cannot_listen(host, port, exc) from exc
    names = ", ".join(server.state.catalog.cards)
    click.echo(f"Ollama stand-in {server.state.version} listening on {server.url} (models: {names})")
    click.echo(f"use it with OLLAMA_HOST={server.url}")
    serve_until_interrupted(server)
    for problem in server.problems():
        click.echo(f"script problem: {problem}", err=True)
    click.echo("Ollama stand-in stopped")


def main() -> None:  # pragma: no cover - console entry point
    standin()


if __name__ == "__main__":  # pragma: no cover
    main()
