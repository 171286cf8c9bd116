"""Identifiers, names and timestamps in the exact formats real Dokploy v0.30.2 produces.

- row ids: 21-character nanoids (`Q0vlE-j5W4dAmiK-NniFg`), URL-safe alphabet;
- appName: cleaned name + "-" + 6 lowercase alphanumerics (`capdemo-qiqp6p`), or, with no name,
  `<type>-<hacker verb>-<adjective>-<noun>-<6 chars>` (`app-back-up-multi-byte-transmitter-rt5yhx`);
- timestamps: ISO-8601 UTC with milliseconds and `Z` (`2026-11-25T08:35:54.335Z`).
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime

NANOID_ALPHABET = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits

# faker's "hacker" vocabulary, which Dokploy's generateAppName draws from
_VERBS = (
    "back up",
    "bypass",
    "hack",
    "override",
    "compress",
    "copy",
    "navigate",
    "index",
    "connect",
    "generate",
    "quantify",
    "calculate",
    "synthesize",
    "input",
    "transmit",
    "program",
    "reboot",
    "parse",
)
_ADJECTIVES = (
    "auxiliary",
    "primary",
    "back-end",
    "digital",
    "open-source",
    "virtual",
    "cross-platform",
    "redundant",
    "online",
    "haptic",
    "multi-byte",
    "bluetooth",
    "wireless",
    "1080p",
    "neural",
    "optical",
    "solid state",
    "mobile",
)
_NOUNS = (
    "driver",
    "protocol",
    "bandwidth",
    "panel",
    "microchip",
    "program",
    "port",
    "card",
    "array",
    "interface",
    "system",
    "sensor",
    "firewall",
    "hard drive",
    "pixel",
    "alarm",
    "feed",
    "monitor",
    "application",
    "transmitter",
    "bus",
    "circuit",
    "capacitor",
    "matrix",
)


def nanoid(size: int = 21) -> str:
    """A random row id like Dokploy's (`nanoid()` from the npm package, 21 chars)."""
    return "".join(secrets.choice(NANOID_ALPHABET) for _ in range(size))


def random_suffix(size: int = 6) -> str:
    """Lowercase alphanumeric suffix (Dokploy's `generatePassword(6)`)."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(size))


def clean_app_name(name: str) -> str:
    """Dokploy's cleanAppName: trim, spaces to dashes, lowercase."""
    return name.strip().replace(" ", "-").lower()


def build_app_name(service_type: str, app_name: str | None) -> str:
    """The appName a create procedure stores: the given name + random suffix, or a generated one."""
    if app_name:
        return f"{clean_app_name(app_name)}-{random_suffix()}"
    words = (secrets.choice(_VERBS), secrets.choice(_ADJECTIVES), secrets.choice(_NOUNS))
    return clean_app_name(f"{service_type}-{'-'.join(words)}-{random_suffix()}")


def now_iso() -> str:
    """Current UTC time as Dokploy stores it: `2026-11-25T08:35:54.335Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_ms() -> int:
    """Current UTC time in epoch milliseconds (queue job timestamps)."""
    return int(datetime.now(UTC).timestamp() * 1000)


def log_stamp() -> str:
    """The `yyyy-MM-dd:HH:mm:ss` part of a deployment log file name (UTC, like Dokploy's container)."""
    return datetime.now(UTC).strftime("%Y-%m-%d:%H:%M:%S")


def random_password(size: int = 24) -> str:
    """A password made of letters and digits (fits Dokploy's DATABASE_PASSWORD_REGEX)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(size))
