"""`infraguardian-telegram-standin` (or `python -m standins.telegram`): a local Telegram Bot API.

For the incident lab and manual runs: point the bot at it with base URL `http://127.0.0.1:PORT/bot`
and the token it prints. Play the user with the control routes (`POST /standin/send_text`,
`POST /standin/press_button`, `GET /standin/sent`; see `standins.telegram.control`).
It is a command of its own: the product never imports the stand-ins.
"""

from __future__ import annotations

import click

from ..command_line import cannot_listen, serve_until_interrupted


@click.command("infraguardian-telegram-standin")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8081, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port."
)
@click.option("--token", default=None, help="The bot token to accept (default: the stand-in's test token).")
@click.option("--bot-username", default="infraguardian_test_bot", show_default=True)
@click.option(
    "--chat-per-second",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Flood limit per chat (0 = off).",
)
@click.option("--overall-per-second", type=click.FloatRange(0), default=30.0, show_default=True)
@click.option("--strict-chats", is_flag=True, help="Refuse sends to chats no user has written from.")
@click.option(
    "--allow-http-webhooks", is_flag=True, help="Accept http:// webhook URLs (Telegram wants https)."
)
@click.option("--log-requests", is_flag=True, help="Print one line per call: method and answer.")
def standin(
    host: str,
    port: int,
    token: str | None,
    bot_username: str,
    chat_per_second: float,
    overall_per_second: float,
    strict_chats: bool,
    allow_http_webhooks: bool,
    log_requests: bool,
) -> None:
    """Serve Telegram's Bot API for one bot, locally."""
    from .server import DEFAULT_TOKEN, TelegramStandIn  # imported here so `--help` stays fast
    from .world import FloodLimits, RecordedRequest

    def log(record: RecordedRequest) -> None:
        click.echo(record.describe())

    limits = FloodLimits(chat_per_second=chat_per_second, overall_per_second=overall_per_second)
    try:
        server = TelegramStandIn(
            host=host,
            port=port,
            token=token or DEFAULT_TOKEN,
            bot_username=bot_username,
            flood_limits=limits,
            strict_chats=strict_chats,
            allow_http_webhooks=allow_http_webhooks,
            on_answered=log if log_requests else None,
        )
    except ValueError as exc:
        raise click.ClickException(f"bad token {token!r}: {exc}; give one like 123456:ABC-def") from exc
    except OSError as exc:
        raise cannot_listen(host, port, exc) from exc
    click.echo(f"Telegram Bot API stand-in listening on {server.url} (bot @{bot_username})")
    # the default token is a public test value; a token given with --token is not echoed
    shown = "the one given with --token" if token else DEFAULT_TOKEN
    click.echo(f"use it with base_url={server.base_url} and token {shown}")
    serve_until_interrupted(server)
    click.echo("Telegram stand-in stopped")


def main() -> None:  # pragma: no cover - console entry point
    standin()


if __name__ == "__main__":  # pragma: no cover
    main()
