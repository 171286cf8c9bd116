#!/usr/bin/env python3
"""Docker health check of the InfraGuardian images: `infraguardian-healthcheck server|agent`.

- server: the Docker socket (DOCKER_HOST, default unix:///var/run/docker.sock) must be there and
  usable by this user (else the group is wrong: Dokploy shows the container unhealthy and the health
  log says what to fix), then GET /healthz of the MCP server's HTTP transport (INFRAGUARDIAN_MCP_HOST/
  PORT, default 127.0.0.1:8765). Over stdio (the image's default command) there is no port to ask.
- agent:  GET /healthz of the dashboard (INFRAGUARDIAN_AGENT__DASHBOARD__HOST/PORT, default
  127.0.0.1:8766). With the dashboard off there is no port to ask: healthy.

/healthz needs no token and says only "ok". Standard library only (the image has no curl), and it
reads the same variables as the programs, so set ports and addresses with variables, not flags.
Exit 0 = healthy, 1 = unhealthy (one line on stdout says why; Docker keeps it in the health log).
"""

from __future__ import annotations

import ipaddress
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 4.0


def probe_address(host: str) -> str:
    """The address to ask for a bind address: a wildcard (0.0.0.0, ::) is reached on loopback."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name, e.g. localhost
    if ip.is_unspecified:
        return "127.0.0.1" if ip.version == 4 else "[::1]"
    return f"[{ip}]" if ip.version == 6 else str(ip)


def health_url(kind: str, env: dict[str, str]) -> str | None:
    """The /healthz URL to ask, or None when this process serves no HTTP (stdio, dashboard off)."""
    if kind == "server":
        if env.get("INFRAGUARDIAN_MCP_TRANSPORT", "stdio").strip().lower() == "stdio":
            return None
        host = env.get("INFRAGUARDIAN_MCP_HOST", "127.0.0.1")
        port = env.get("INFRAGUARDIAN_MCP_PORT", "8765")
    elif kind == "agent":
        prefix = "INFRAGUARDIAN_AGENT__DASHBOARD__"
        if env.get(prefix + "ENABLED", "true").strip().lower() in ("false", "0", "no", "off"):
            return None
        host = env.get(prefix + "HOST", "127.0.0.1")
        port = env.get(prefix + "PORT", "8766")
    else:
        raise ValueError(f"unknown kind {kind!r}: give server or agent")
    return f"http://{probe_address(host.strip())}:{port.strip()}/healthz"


def socket_problem(env: dict[str, str]) -> str | None:
    """Why the server cannot use its Docker socket, or None (also None for a tcp:// or ssh:// engine)."""
    host = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None
    path = host.removeprefix("unix://")
    if not os.path.exists(path):
        return f"no Docker socket at {path}: mount it (-v /var/run/docker.sock:/var/run/docker.sock)"
    if not os.access(path, os.R_OK | os.W_OK):
        return (
            f"uid {os.getuid()} (groups {sorted(os.getgroups())}) cannot use {path}: give the container the "
            "socket's group (compose group_add / docker run --group-add, from `stat -c %g /var/run/docker.sock`)"
        )
    return None


def check(url: str) -> str | None:
    """None when `url` answers 200, else why not (one line)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - http URL built above
            if response.status == 200:
                return None
            return f"{url} answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url} did not answer: {exc}"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("server", "agent"):
        print("usage: infraguardian-healthcheck server|agent")
        return 2
    env = dict(os.environ)
    if argv[1] == "server":
        problem = socket_problem(env)
        if problem:
            print(problem)
            return 1
    url = health_url(argv[1], env)
    if url is None:
        print(f"{argv[1]}: no HTTP endpoint configured, nothing to probe")
        return 0
    problem = check(url)
    print(problem or f"{url}: ok")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
