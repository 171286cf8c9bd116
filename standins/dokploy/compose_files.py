"""The compose file Dokploy writes before `docker compose up`: parsed, rewritten, dumped again.

Dokploy v0.30.2 always round-trips the stored `composeFile` through a YAML parser and dumper
(flow lists become block lists), injects Traefik labels for compose domains and the isolated
network, and writes a `.env` next to it. YAML is read with YAML 1.2 rules (like the `yaml` npm
package, and like Docker Compose), so `yes`, `on`, `22:22` and `0755` stay strings.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mcp_server.safe_yaml import load_yaml

from .state import Row


class ComposeFileError(Exception):
    """The compose text cannot be converted (bad YAML, or a domain that names no service)."""


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # the `yaml` npm package indents block sequences under their key
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style  # `yaml` quotes with double quotes


def _core_schema(cls: type[yaml.SafeLoader] | type[yaml.SafeDumper]) -> None:
    """Replace YAML 1.1 implicit types (yes/no, sexagesimal, 0-octal) by the YAML 1.2 core ones."""
    resolvers = {
        key: [
            (tag, rx)
            for tag, rx in value
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        ]
        for key, value in cls.yaml_implicit_resolvers.items()
    }
    cls.yaml_implicit_resolvers = resolvers
    cls.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    cls.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
        list("-+0123456789"),
    )
    cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )


_core_schema(_Loader)
_core_schema(_Dumper)


def _int_constructor(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _int_constructor)


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_representer)


def _pretty_error(text: str, err: yaml.YAMLError) -> str:
    """A YAML error in the `yaml` npm package's layout: message, position, context lines, caret."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    problem = problem[:1].upper() + problem[1:]
    if mark is None:
        return problem
    lines = text.splitlines()
    shown = [lines[i] for i in (mark.line - 1, mark.line) if 0 <= i < len(lines)]
    caret = " " * mark.column + "^"
    return (
        f"{problem} at line {mark.line + 1}, column {mark.column + 1}:\n\n"
        + "\n".join([*shown, caret])
        + "\n"
    )


def load_compose(text: str) -> Any:
    """Parse compose YAML; raises ComposeFileError with a readable message."""
    try:
        return load_yaml(text, what="the compose file", loader=_Loader)
    except yaml.YAMLError as err:
        raise ComposeFileError(_pretty_error(text, err)) from err


def dump_compose(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False
    )


def service_names(text: str) -> list[str] | None:
    """Service names of a compose text, or None when it has no `services` mapping."""
    data = load_compose(text)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return None
    return [str(name) for name in data["services"]]


def _domain_labels(app_name: str, domain: Row, entrypoint: str) -> list[str]:
    router = f"{app_name}-{domain['uniqueConfigKey']}-{entrypoint}"
    rule = f"Host(`{domain['host']}`)"
    if domain.get("path") and domain["path"] != "/":
        rule += f" && PathPrefix(`{domain['path']}`)"
    labels = [
        f"traefik.http.routers.{router}.rule={rule}",
        f"traefik.http.routers.{router}.entrypoints={domain.get('customEntrypoint') or entrypoint}",
        f"traefik.http.services.{router}.loadbalancer.server.port={domain['port']}",
        f"traefik.http.routers.{router}.service={router}",
    ]
    if entrypoint == "web" and domain["https"]:
        labels.append(f"traefik.http.routers.{router}.middlewares=redirect-to-https@file")
    if entrypoint == "websecure":
        if domain["certificateType"] == "letsencrypt":
            labels.append(f"traefik.http.routers.{router}.tls.certresolver=letsencrypt")
        elif domain["certificateType"] == "custom" and domain.get("customCertResolver"):
            labels.append(f"traefik.http.routers.{router}.tls.certresolver={domain['customCertResolver']}")
    return labels


def _add_network(service: dict[str, Any], network: str, keep_default: bool) -> None:
    current = service.get("networks")
    if isinstance(current, dict):
        current.setdefault(network, None)
        return
    names = list(current or [])
    if network not in names:
        names.insert(0, network)
    if keep_default and not current and "default" not in names:
        names.append("default")
    service["networks"] = names


def convert_compose(compose: Row, domains: list[Row]) -> str:
    """The file Dokploy writes for a deploy: domains as Traefik labels, isolated network added."""
    data = load_compose(compose["composeFile"] or "")
    if not isinstance(data, dict):
        data = {}
    found = data.get("services")
    services: dict[str, Any] = found if isinstance(found, dict) else {}
    app_name = compose["appName"]
    stack = compose["composeType"] == "stack"
    isolated = bool(compose["isolatedDeployment"])
    if isolated:
        for service in services.values():
            if isinstance(service, dict):
                _add_network(service, app_name, keep_default=False)
        data.setdefault("networks", {})[app_name] = {"name": app_name, "external": True}
    for domain in domains:
        name = domain.get("serviceName")
        if not name:
            raise ComposeFileError(f'Domain "{domain["host"]}" is missing a service name')
        service = services.get(name)
        if not isinstance(service, dict):
            raise ComposeFileError(f"The service {name} not found in the compose")
        labels = _domain_labels(app_name, domain, "web")
        if domain["https"]:
            labels += _domain_labels(app_name, domain, "websecure")
        target = service.setdefault("deploy", {}) if stack else service
        existing = target.get("labels") or []
        if isinstance(existing, dict):
            existing = [f"{k}={v}" for k, v in existing.items()]
        network_label = (
            f"traefik.{'swarm' if stack else 'docker'}.network={app_name if isolated else 'dokploy-network'}"
        )
        merged = [network_label, *[label for label in existing if label != network_label], *labels]
        if "traefik.enable=true" not in merged:
            merged.append("traefik.enable=true")
        target["labels"] = merged
        if not isolated:
            _add_network(service, "dokploy-network", keep_default=True)
            data.setdefault("networks", {})["dokploy-network"] = {"external": True}
    return dump_compose(data)


def env_file(compose: Row, docker_config: str) -> str:
    """The `.env` Dokploy writes next to the compose file (no trailing newline)."""
    lines = [f'APP_NAME="{compose["appName"]}"', f'COMPOSE_PROJECT_NAME="{compose["appName"]}"']
    user_env = [line for line in (compose["env"] or "").splitlines() if line.strip()]
    lines += user_env
    if not any(line.startswith("DOCKER_CONFIG=") for line in user_env):
        lines.append(f'DOCKER_CONFIG="{docker_config}"')
    return "\n".join(lines)
