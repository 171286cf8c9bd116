"""The bad deploy: v2.4.0 of the API, deployed through Dokploy's API as a user would — the current
compose file (read back with compose.one, so it keeps everything Dokploy and the lab put in it) with
the API's command replaced by one that panics at start, written with compose.update, then
compose.deploy. Waits until Dokploy reports the deployment done (compose up succeeds; the API then
crash-loops)."""

import os
import time

import httpx
import yaml

BAD_COMMAND = [
    "sh",
    "-c",
    'echo "api v2.4.0 starting"; '
    'echo "panic: runtime error: invalid memory address or nil pointer dereference" >&2; '
    'echo "goroutine 1 [running]: main.(*Router).init(0x0) router.go:88" >&2; exit 2',
]

compose_id = os.environ["LAB_COMPOSE_ID"]
http = httpx.Client(
    base_url=os.environ["LAB_DOKPLOY_URL"],
    headers={"x-api-key": os.environ["LAB_DOKPLOY_API_KEY"]},
    timeout=60,
)
row = http.get("/api/compose.one", params={"composeId": compose_id})
row.raise_for_status()
compose = yaml.safe_load(row.json()["composeFile"])
compose["services"]["api"]["command"] = BAD_COMMAND
bad = yaml.safe_dump(compose, sort_keys=False)
http.post("/api/compose.update", json={"composeId": compose_id, "composeFile": bad}).raise_for_status()
http.post(
    "/api/compose.deploy", json={"composeId": compose_id, "title": "deploy api v2.4.0"}
).raise_for_status()
# the deployment row appears once Dokploy's queue starts the job; wait for it to finish
deadline = time.monotonic() + 50
while time.monotonic() < deadline:
    rows = http.get("/api/deployment.allByCompose", params={"composeId": compose_id}).json()
    if rows and rows[0].get("title") == "deploy api v2.4.0" and rows[0]["status"] in ("done", "error"):
        break
    time.sleep(0.5)
else:
    raise SystemExit("the v2.4.0 deployment did not finish within 50 s")
