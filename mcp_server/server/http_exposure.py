"""Who may reach the HTTP transports: the Host/Origin allow-lists and the plain-HTTP rule.

DNS rebinding: a web page on `attacker.example` re-points its name at this server's address, and the
browser then sends requests with `Host: attacker.example`. So the server answers only to the names
it is really reached by, whatever address it is bound to:
- bound to 127.0.0.1, localhost or ::1: the localhost names on any port (the MCP SDK's own default);
- bound to one address: that address with the bound port;
- bound to 0.0.0.0 or ::: this machine's own addresses with the bound port, plus the localhost names;
- always: the names given with `--allowed-host` (e.g. the domain a TLS proxy serves).
The Origin header, when a browser sends one, must be one of those hosts or an `--allowed-origin`.

The server speaks plain HTTP only. Listening on a non-loopback address therefore needs an explicit
choice: `--behind-tls-proxy` (a TLS reverse proxy such as Traefik is in front) or
`--insecure-plain-http` (a trusted private network; the bearer token crosses it unencrypted).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from mcp.server.transport_security import TransportSecuritySettings

log = logging.getLogger("infraguardian.transport")

LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")
# What the SDK allows by default for a localhost bind. A rebinding page cannot make a browser send
# these names (they are not the attacker's), so any port is as safe here as the bound one.
LOOPBACK_HOST_PATTERNS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
BEHIND_TLS_PROXY_FLAG = "--behind-tls-proxy"
INSECURE_PLAIN_HTTP_FLAG = "--insecure-plain-http"
_FIB_TRIE = Path("/proc/net/fib_trie")  # Linux: every IPv4 route, local addresses marked "host LOCAL"
_IF_INET6 = Path("/proc/net/if_inet6")  # Linux: every IPv6 address of every interface


# -- addresses -------------------------------------------------------------------------------------


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8 and ::1 (an IP address as bound, not a name)."""
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def is_wildcard(address: str) -> bool:
    """True for 0.0.0.0 and :: (listening on every interface)."""
    ip = _ip(address)
    return ip is not None and ip.is_unspecified


def in_host_header(address: str) -> str:
    """An address as it appears in a Host header: IPv6 in brackets."""
    return f"[{address}]" if ":" in address else address


def machine_addresses(*, ipv6: bool) -> list[str]:
    """This machine's own addresses in its network namespace, loopback and IPv6 link-local left out.

    Standard library only: what the host name resolves to, plus on Linux every local IPv4 address
    in /proc/net/fib_trie and (with `ipv6`) every address in /proc/net/if_inet6."""
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM):
            found.add(str(info[4][0]))
    except OSError as exc:  # an unresolvable host name is common in containers; the files below suffice
        log.debug("cannot resolve this machine's host name: %s", exc)
    if sys.platform.startswith("linux"):
        found |= _local_ipv4_from_fib_trie(_read_proc(_FIB_TRIE))
        if ipv6:
            found |= _ipv6_from_if_inet6(_read_proc(_IF_INET6))
    kept = []
    for address in found:
        ip = _ip(address)
        if ip is None or ip.is_loopback or ip.is_link_local or ip.is_unspecified:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and not ipv6:
            continue
        kept.append(str(ip))
    return sorted(kept, key=lambda a: (":" in a, a))


def _read_proc(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:  # no /proc (or no IPv6): fewer addresses, --allowed-host names the rest
        log.debug("cannot read %s: %s", path, exc)
        return ""


def _local_ipv4_from_fib_trie(text: str) -> set[str]:
    """Addresses of the `|-- a.b.c.d` lines followed by `/32 host LOCAL` (the machine's own)."""
    found: set[str] = set()
    last = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|-- "):
            last = stripped[4:]
        elif stripped.startswith("/32 host LOCAL") and last:
            found.add(last)
    return found


def _ipv6_from_if_inet6(text: str) -> set[str]:
    """The first column of each line is the address as 32 hex digits."""
    found: set[str] = set()
    for line in text.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                found.add(str(ipaddress.IPv6Address(int(fields[0], 16))))
            except ValueError:
                continue
    return found


# -- the allow-lists ---------------------------------------------------------------------------------


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def user_host_patterns(allowed_hosts: Sequence[str]) -> list[str]:
    """Patterns for `--allowed-host` names; a name without a port also matches it with any port."""
    patterns: list[str] = []
    for raw in allowed_hosts:
        name = raw.strip()
        if not name:
            continue
        has_port = name.rsplit("]", 1)[-1].count(":") == 1
        patterns.extend([name] if has_port else [name, f"{name}:*"])
    return _unique(patterns)


def bound_host_patterns(bind_host: str, bound_address: str, port: int) -> list[str]:
    """The Host header values that reach this server without any `--allowed-host`."""
    if bind_host in LOCALHOST_NAMES and is_loopback(bound_address):
        return list(LOOPBACK_HOST_PATTERNS)
    if is_wildcard(bound_address):
        own = machine_addresses(ipv6=":" in bound_address)
        return [*LOOPBACK_HOST_PATTERNS, *(f"{in_host_header(a)}:{port}" for a in own)]
    names = [in_host_header(bound_address)]
    if _ip(bind_host) is None:  # bound by name (e.g. --host mcp.lan): clients use that name too
        names.append(bind_host)
    patterns = [f"{name}:{port}" for name in names]
    if port == 80:  # clients leave the default port out of the Host header
        patterns += names
    return _unique(patterns)


def transport_security(
    bind_host: str,
    bound_address: str,
    port: int,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> TransportSecuritySettings:
    """The Host/Origin allow-lists for a server bound to `bound_address:port` (always enabled)."""
    extra = user_host_patterns(allowed_hosts)
    hosts = _unique([*bound_host_patterns(bind_host, bound_address, port), *extra])
    origins = _unique(
        [
            *(f"http://{h}" for h in hosts),
            *(f"https://{h}" for h in extra),  # the names a TLS proxy serves
            *(o.strip().rstrip("/") for o in allowed_origins if o.strip()),
        ]
    )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def _matches(value: str, patterns: Sequence[str]) -> bool:
    """Exact match, or `base:*` matching `base:<any port>` (the SDK's rule)."""
    return any(value == p or (p.endswith(":*") and value.startswith(p[:-1])) for p in patterns)


def header_refusal(
    security: TransportSecuritySettings, host: str | None, origin: str | None
) -> tuple[int, str] | None:
    """(status, reason) when the Host or Origin header is not allowed, else None.

    421 for a Host this server does not answer to, 403 for a foreign Origin (as the SDK answers).
    A missing Origin is fine: only browsers send one."""
    if not host or not _matches(host, security.allowed_hosts):
        return 421, f"Host {host!r:.80} is not a name this server answers to; add it with --allowed-host"
    if origin and not _matches(origin, security.allowed_origins):
        return 403, f"Origin {origin!r:.80} is not allowed; add it with --allowed-origin"
    return None


# -- the plain-HTTP rule -------------------------------------------------------------------------------


def plain_http_refusal(
    bind_host: str, bound_address: str, port: int, *, behind_tls_proxy: bool, insecure_plain_http: bool
) -> str | None:
    """Why the server must not start on this address (one line naming the flag to add), else None."""
    if behind_tls_proxy and insecure_plain_http:
        return f"give either {BEHIND_TLS_PROXY_FLAG} or {INSECURE_PLAIN_HTTP_FLAG}, not both"
    if is_loopback(bound_address) or behind_tls_proxy or insecure_plain_http:
        return None
    where = f"{in_host_header(bind_host)}:{port}"
    return (
        f"refusing to serve plain HTTP on {where} (not a loopback address; this server does not "
        f"terminate TLS): add {BEHIND_TLS_PROXY_FLAG} if a TLS reverse proxy such as Traefik is in "
        f"front, or {INSECURE_PLAIN_HTTP_FLAG} on a trusted private network"
    )


def log_exposure(
    bind_host: str,
    bound_address: str,
    security: TransportSecuritySettings,
    *,
    allowed_hosts: Sequence[str],
    behind_tls_proxy: bool,
    path: str,
) -> None:
    """Log which Host names pass, and what a non-loopback bind means for the operator."""
    log.info("accepted Host headers: %s (add names with --allowed-host)", ", ".join(security.allowed_hosts))
    if is_loopback(bound_address):
        return
    if not behind_tls_proxy:
        log.warning(
            "serving plain HTTP on %s (%s): the bearer token and every answer cross the network "
            "unencrypted; use this only on a trusted private network and firewall the port",
            in_host_header(bind_host),
            INSECURE_PLAIN_HTTP_FLAG,
        )
    elif allowed_hosts:
        log.info("behind a TLS proxy: clients connect to https://%s%s through it", allowed_hosts[0], path)
    else:
        log.warning(
            "behind a TLS proxy but no --allowed-host: requests under the proxy's domain get 421; "
            "add --allowed-host <domain> (INFRAGUARDIAN_MCP_ALLOWED_HOSTS)"
        )
