"""/mute <service> <duration>: no notifications about one service for a while (30m, 2h, 1d).
The service must be named exactly (a mute hides incidents, so it is never guessed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from telegram import Update

from agent_host.telegram.commands._common import CommandProblem, service_named, who
from agent_host.telegram.render import html as esc

if TYPE_CHECKING:
    from agent_host.telegram.context import BotContext

UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_MUTE = timedelta(days=30)
_DURATION = re.compile(r"^(\d{1,5})([mhd])$")


def parse_duration(text: str) -> timedelta:
    """'30m', '2h', '1d' as a timedelta (at most 30 days); ValueError with one line otherwise."""
    found = _DURATION.match(text.strip().lower())
    if not found or int(found.group(1)) == 0:
        raise ValueError(f"'{text}' is not a duration; send a number and m, h or d, e.g. 30m, 2h or 1d")
    span = timedelta(seconds=int(found.group(1)) * UNITS[found.group(2)])
    if span > MAX_MUTE:
        raise ValueError(f"'{text}' is longer than 30 days; mute for 30d at most")
    return span


async def mute(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/mute <service> <duration>: skip notifications about a service until the time is up."""
    if len(args) < 2:
        raise CommandProblem("send /mute <service> <duration>, e.g. /mute granada api 2h")
    try:
        span = parse_duration(args[-1])
    except ValueError as exc:
        raise CommandProblem(str(exc)) from None
    ref = await service_named(ctx, args[:-1], mutation=True)
    until = datetime.now(UTC) + span
    _, user_id = who(update)
    await ctx.outbox.mute(ref.target_key, until, by=f"telegram:{user_id}")
    return f"🔕 <b>{esc(ref.label)}</b> muted until {until:%Y-%m-%d %H:%M} UTC"
