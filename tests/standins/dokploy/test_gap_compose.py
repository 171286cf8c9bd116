"""`compose.getDefaultCommand` (was 501) and `compose.getConvertedCompose` on an empty file.

Issue 13: one client script run against a real Dokploy v0.30.2 and against the stand-in differed
here; each test states what the real server answered (shapes from `shared/dokploy/` captures and
REFERENCE.md).
"""

from __future__ import annotations

import httpx

from .test_services import environment

# -- compose.getDefaultCommand (was 501) ----------------------------------------------------


def test_default_command_for_compose_and_stack(api: httpx.Client) -> None:
    env = environment(api)
    commands = {}
    for compose_type in ("docker-compose", "stack"):
        row = api.post(
            "/api/compose.create",
            json={
                "name": compose_type,
                "environmentId": env,
                "composeType": compose_type,
                "sourceType": "raw",
            },
        ).json()
        got = api.get("/api/compose.getDefaultCommand", params={"composeId": row["composeId"]})
        assert got.status_code == 200
        commands[compose_type] = (row["appName"], got.json())
    app, command = commands["docker-compose"]
    assert command == f"docker compose -p {app} -f docker-compose.yml up -d --build --remove-orphans"
    app, command = commands["stack"]
    assert command == f"docker stack deploy -c docker-compose.yml {app} --prune --with-registry-auth"


# -- compose.getConvertedCompose on an empty file --------------------------------------------


def test_converted_compose_of_an_empty_file_is_yaml_null(api: httpx.Client) -> None:
    row = api.post(
        "/api/compose.create",
        json={"name": "empty", "environmentId": environment(api), "sourceType": "raw", "composeFile": ""},
    ).json()
    domain = {"host": "e.example.com", "composeId": row["composeId"], "domainType": "compose"}
    assert api.post("/api/domain.create", json=domain).status_code == 200  # no serviceName
    converted = api.get("/api/compose.getConvertedCompose", params={"composeId": row["composeId"]})
    assert (converted.status_code, converted.json()) == (200, "null\n")
