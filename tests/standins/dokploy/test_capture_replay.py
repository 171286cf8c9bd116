"""Replays the recorded Dokploy v0.30.2 exchanges on the stand-in, in the order they were captured.

Every single-request capture about an implemented operation (and every generic HTTP error case) is
in CASES; the state it needs is rebuilt through the stand-in's own HTTP API by the `before` steps.
Each replay must match the capture's status, content type, framing headers and body shape (and
ids flow from one step to the next through the Replayer's id map). Captures that are not replayed
are in NOT_REPLAYED with the reason; `test_every_capture_is_accounted_for` keeps the table complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from .replay import all_capture_names, compare, load_capture, production_body
from .scenario import Ctx
from .session_steps import (
    body,
    caphook,
    capslow_done,
    capslow_running,
    capslow_second,
    capsvc,
    capthree_deploy,
    clean_before_prod,
    deploy_capdemo,
    isolated_redeploy,
    only_second_active,
    prod_deploy,
    project_x,
    queued_1,
    queued_3,
    seventh_deploy,
    unhealthy_done,
    unhealthy_running,
    wait_map,
)

pytestmark = pytest.mark.docker

Step = Callable[[Ctx], None]


@dataclass(frozen=True)
class Case:
    name: str
    before: Step | None = None
    body: Callable[[Ctx], Any] | None = None
    omit: dict[str, str] = field(default_factory=dict)  # body path -> why its key is not compared
    after: Step | None = None


# fields of tables the stand-in returns from a real engine whose values depend on the container
_INSPECT_OMIT = {
    "$.Config.Env": "comes from the image (the capture host's ig/busybox:test had no ENV), not from Dokploy",
    "$.Config.Labels": "free-form label map (the replay adds ig.test)",
    "$.NetworkSettings.Networks": "map keyed by network name (<appName>_default)",
    "$.HostConfig.Init": "the replay compose sets `init: true` so busybox stops at once (capture: unset)",
}

CASES: list[Case] = [
    # fresh install: auth, routing, adapter errors, empty lists
    Case("project.all--empty"),
    Case("project.all--no-api-key"),
    Case("project.all--wrong-api-key"),
    Case("project.create--GET-on-mutation-with-query"),
    Case("project.create--GET-on-mutation"),
    Case("settings.health--no-api-key"),
    Case("project.all--POST-on-query"),
    Case("project.create--content-type-form"),
    Case("project.create--content-type-text-plain"),
    Case("project.create--no-content-type"),
    Case("compose.one--validation-missing-id"),
    Case("project.create--validation-missing-name"),
    Case("project.create--validation-wrong-type"),
    Case("application.one--not-found"),
    Case("compose.one--not-found"),
    Case("deployment.all--unknown-application"),
    Case("project.one--not-found"),
    Case("compose.delete--not-found"),
    Case("compose.deploy--not-found"),
    Case("deployment.allByCompose--unknown-compose"),
    Case("environment.one--not-found"),
    Case("deployment.readLogs--not-found"),
    Case("domain.byComposeId--unknown-compose"),
    Case("unknown--unknown-router"),
    Case("project.all--uppercase-path", before=project_x),
    Case("project.create--empty-body"),
    Case("project.create--malformed-json"),
    Case("project.nosuchproc--unknown-procedure"),
    Case("unknown--unknown-router-POST"),
    Case("project.all--trailing-slash"),
    Case("settings.getDokployVersion--ok"),
    Case("settings.health--ok"),
    Case("project.all--one-project"),
    # project capture-demo
    Case("project.create--ok"),
    Case("project.one--ok"),
    Case("environment.byProjectId--ok"),
    Case("environment.byProjectId--unknown-project"),
    Case("environment.one--default-env"),
    Case("docker.getContainers--before-deploy"),
    Case("environment.create--duplicate-production"),
    Case("environment.create--ok"),
    Case("server.all--none"),
    Case("docker.getConfig--unknown-container"),
    Case("overview.backups--ok"),
    Case("overview.domains--ok"),
    Case("overview.services--ok"),
    Case("deployment.all--missing-applicationId"),
    Case("notification.all--empty"),
    Case("user.get--ok"),
    Case("deployment.queueList--empty"),
    Case("settings.isCloud--ok"),
    # compose capdemo: deploy, stop/start, redeploy, domains, broken deploys
    Case("compose.create--raw"),
    Case("compose.update--composeFile", body=body("compose.update--composeFile")),
    Case("compose.loadServices--before-deploy"),
    Case("compose.loadServices--type-fetch-before-deploy"),
    Case("compose.one--before-deploy"),
    Case("compose.deploy--ok", after=deploy_capdemo),
    Case("compose.one--after-deploy"),
    Case("deployment.allByCompose--after-deploy"),
    Case("compose.loadServices--after-deploy-cache"),
    Case("deployment.readLogs--ok-default-tail"),
    Case("deployment.readLogs--tail-5"),
    Case("docker.getContainers--after-deploy"),
    Case("docker.getContainersByAppLabel--standalone"),
    Case("docker.getContainersByAppNameMatch--compose-appType"),
    Case("docker.getContainersByAppNameMatch--compose"),
    Case("domain.byComposeId--none"),
    Case("overview.services--after-deploy"),
    Case("docker.getConfig--compose-container", omit=_INSPECT_OMIT),
    Case("docker.restartContainer--ok"),
    Case("docker.restartContainer--invalid-id"),
    Case("docker.restartContainer--unknown-container"),
    Case("compose.stop--ok"),
    Case("compose.one--after-stop"),
    Case("compose.start--ok"),
    Case("compose.redeploy--ok", after=wait_map("5KqZM8zdzLDXKaeWUZ3kB", "x2i8xcknObKu2IjCtumbL")),
    Case("deployment.allByCompose--after-redeploy"),
    Case("deployment.readLogs--redeploy"),
    Case("domain.create--compose-missing-serviceName"),
    Case("domain.byComposeId--one-domain"),
    Case("compose.getConvertedCompose--with-domain"),
    Case("compose.redeploy--with-domain", after=wait_map("xpPtBU8JABDmUfxtv9Miy", "x2i8xcknObKu2IjCtumbL")),
    Case("deployment.readLogs--redeploy-with-domain"),
    Case("domain.create--compose-ok"),
    Case("domain.delete--ok"),
    Case("compose.getConvertedCompose--with-domain-ok"),
    Case("compose.one--status-error-after-failed-redeploy"),
    Case(
        "compose.redeploy--with-valid-domain",
        after=wait_map("WZwtUNX7LYF9EjTwGMKaQ", "x2i8xcknObKu2IjCtumbL"),
    ),
    Case("deployment.readLogs--redeploy-with-valid-domain"),
    Case("compose.update--invalid-yaml"),
    Case("compose.loadServices--invalid-yaml-fetch"),
    Case("compose.deploy--invalid-yaml", after=wait_map("9ga1UXLrxrlCJMNkHsQU3", "x2i8xcknObKu2IjCtumbL")),
    Case("compose.one--after-invalid-yaml-deploy"),
    Case("deployment.allByCompose--after-invalid-yaml"),
    Case("deployment.readLogs--invalid-yaml-error"),
    Case("compose.update--missing-image", body=body("compose.update--missing-image")),
    Case("compose.deploy--missing-image", after=wait_map("UjKDhtTzEv_jTfd-AeizU", "x2i8xcknObKu2IjCtumbL")),
    Case("compose.one--after-missing-image-deploy"),
    Case("deployment.allByCompose--after-missing-image"),
    Case("deployment.readLogs--missing-image-error"),
    # applications next to the compose
    Case("application.create--ok"),
    Case("application.create--no-appName"),
    Case("application.create--unknown-environment"),
    Case("application.one--ok-never-deployed"),
    Case("deployment.all--application-no-deployments"),
    Case("compose.create--unknown-environment"),
    Case("compose.create--validation-missing-name"),
    Case("environment.one--with-compose-and-application"),
    Case("project.one--with-compose-and-application"),
    Case("overview.domains--one-compose-domain"),
    Case("overview.services--compose-and-application"),
    Case("project.all--with-services"),
    Case("deployment.allByCompose--seven-deployments", before=seventh_deploy),
    Case("compose.delete--ok"),
    Case("compose.one--after-delete"),
    Case("deployment.allByCompose--after-delete"),
    Case("compose.delete--already-deleted"),
    Case("deployment.readLogs--after-compose-delete"),
    Case("docker.getContainers--after-compose-delete"),
    Case("domain.byComposeId--after-compose-delete"),
    # stack rows (deploying a stack needs the docker CLI: see NOT_REPLAYED)
    Case("compose.create--stack-with-composeFile"),
    Case("compose.stop--stack"),
    Case("compose.start--stack"),
    Case("docker.getContainersByAppLabel--swarm"),
    Case("compose.delete--stack-deleteVolumes", omit={"$.deployments": "the replay never deploys the stack"}),
    # HTTP corner cases
    Case("project.all--method-DELETE"),
    Case("project.all--method-PATCH"),
    Case("project.all--method-PUT"),
    Case("deployment.readLogs--tail-not-a-number"),
    Case("project.all--method-HEAD"),
    Case("project.all--method-OPTIONS"),
    Case("project.create--body-over-1MB"),
    Case("project.one--empty-id"),
    Case("project.one--repeated-query-key"),
    Case("project.update--extra-unknown-field"),
    Case("nextapi.health--no-auth"),
    # compose caphook: webhooks, isolated network, queue, runtime logs; applications
    Case("webhook.deploy-compose--raw-ok", before=caphook, after=lambda ctx: ctx.wait()),
    Case("webhook.deploy-application--unknown-token"),
    Case("webhook.deploy-compose--GET", after=lambda ctx: ctx.wait()),
    Case("webhook.deploy-compose--unknown-token"),
    Case("compose.update--isolatedDeployment-true"),
    Case("compose.getConvertedCompose--isolated"),
    Case("deployment.readLogs--isolated-redeploy", before=isolated_redeploy),
    Case("compose.deploy--second-while-first-running", before=queued_1, after=queued_3),
    Case("deployment.queueList--after-drain"),
    Case("application.saveDockerProvider--validation-required-fields"),
    Case("application.saveDockerProvider--nulls"),
    Case("application.deploy--docker-source", after=lambda ctx: ctx.wait()),
    Case(
        "application.one--after-failed-deploy",
        before=lambda ctx: ctx.map_latest_deployment(
            "ek_U_Ap7BHVeHLlBnuUcs", application="Tn_RSGokN-8S6z7TnYyWq"
        ),
    ),
    Case("deployment.all--application-after-failed-deploy"),
    Case("deployment.readLogs--application-docker-pull-failed"),
    Case("compose.readLogs--runtime-container-logs"),
    Case("compose.readLogs--unknown-container"),
    Case("docker.getServerHealth--local"),
    Case("compose.update--attempt-appName-change"),
    Case("docker.getContainersByAppNameMatch--no-match"),
    Case("organization.all--x-api-key"),
    Case("compose.clearDeployments--ok"),
    Case("compose.loadMountsByService--web"),
    Case("deployment.allByCompose--after-clearDeployments"),
    Case("environment.remove--default-env"),
    Case("application.stop--never-deployed"),
    Case("compose.cleanQueues--ok"),
    Case("application.start--never-deployed"),
    Case("application.reload--never-deployed"),
    Case("project.remove--with-services"),
    Case("compose.one--after-project-remove"),
    Case("overview.services--after-project-remove"),
    Case("project.all--after-remove"),
    # compose capthree in project capture-demo-2
    Case(
        "compose.create--raw-with-composeFile",
        before=lambda ctx: ctx.project("xF7HD1bDk3wbdUH1U4qGp", "N1MoZNBSAFa2DkTjIZD9E", "capture-demo-2"),
        body=body("compose.create--raw-with-composeFile"),
    ),
    Case("compose.stop--never-deployed"),
    Case("compose.start--never-deployed"),
    Case("compose.update--not-found"),
    Case("compose.readLogs--container-with-output", before=capthree_deploy),
    Case("deployment.allByType--compose"),
    Case("deployment.allCentralized--ok"),
    Case("project.homeStats--ok"),
    Case("project.search--q"),
    Case("deployment.killProcess--finished-deployment"),
    Case("deployment.removeDeployment--ok"),
    Case("compose.create--invalid-appName"),
    Case("deployment.allByCompose--after-removeDeployment"),
    Case("project.create--duplicate-name"),
    Case("compose.create--invalid-composeType-enum"),
    # application capsvc: a swarm service from application.reload
    Case("application.update--command-memoryLimit", before=capsvc),
    Case("application.reload--creates-swarm-service"),
    Case("application.one--after-reload"),
    Case(
        "docker.getContainersByAppLabel--application-swarm",
        before=lambda ctx: ctx.wait_for_task_container("capsvc-wibxia"),
    ),
    Case("docker.getContainersByAppNameMatch--application"),
    Case("docker.getServiceContainersByAppName--application"),
    Case("application.stop--running-service"),
    Case("application.one--after-stop"),
    Case("application.start--ok"),
    Case("application.delete--ok"),
    # checks before authentication
    Case("project.create--body-over-1MB-no-api-key"),
    Case("project.create--malformed-json-no-api-key"),
    Case("unknown--unknown-router-no-api-key"),
    Case("settings.getWebServerSettings--fresh-dev"),
    # capslow: slow health checks, the queue while deploying, an unhealthy dependency
    Case("compose.deploy--slow-healthcheck", before=capslow_running, after=capslow_second),
    Case("deployment.queueList--one-active-one-waiting"),
    Case("compose.one--while-running"),
    Case("deployment.allByCompose--while-running"),
    Case("deployment.readLogs--while-running"),
    Case("deployment.killProcess--running-compose-deployment"),
    Case("deployment.queueList--while-deploying", before=only_second_active),
    Case(
        "deployment.readLogs--while-running-waiting-healthy",
        before=lambda ctx: ctx.map_latest_deployment(
            "1FxF0_3EfuWKjjNxcUyYu", compose="uaHnALLlqxpP3Jc0dLs4d"
        ),
    ),
    Case("deployment.readLogs--slow-healthy-done", before=capslow_done),
    Case("deployment.readLogs--slow-slow-2-queued-error"),
    Case("deployment.readLogs--while-running-waiting-unhealthy", before=unhealthy_running),
    Case("deployment.readLogs--unhealthy-dependency-recreate-error", before=unhealthy_done),
    Case("deployment.readLogs--slow-slow-1-error"),
    # production-mode captures (same server, production bodies)
    Case("compose.one--not-found-prod", before=clean_before_prod),
    Case("compose.update--not-found-prod"),
    Case("docker.getContainers--none-prod"),
    Case("docker.restartContainer--unknown-container-prod"),
    Case("project.all--POST-on-query-prod"),
    Case("project.all--method-HEAD-prod"),
    Case("project.all--no-api-key-prod"),
    Case("project.all--ok-prod"),
    Case("project.all--trailing-slash-prod"),
    Case("project.all--wrong-api-key-prod"),
    Case("project.create--GET-on-mutation-prod"),
    Case("project.create--content-type-text-plain-prod"),
    Case("project.create--malformed-json-prod"),
    Case("project.create--no-content-type-prod"),
    Case("project.create--validation-missing-name-prod"),
    Case("project.one--not-found-prod"),
    Case("settings.getDokployVersion--ok-prod"),
    Case("settings.health--ok-prod"),
    Case("unknown--unknown-router-prod"),
    Case("project.create--ok-prod"),
    Case("compose.create--raw-with-composeFile-prod", body=body("compose.create--raw-with-composeFile-prod")),
    Case("compose.deploy--ok-prod", after=prod_deploy),
    Case("compose.one--after-deploy-prod"),
    Case("deployment.allByCompose--after-deploy-prod"),
    Case("deployment.readLogs--ok-prod"),
    Case("docker.getContainers--after-deploy-prod"),
    Case("compose.stop--ok-prod"),
    Case("compose.start--ok-prod"),
    Case("compose.delete--ok-prod"),
    Case("project.remove--empty-prod"),
    # trimmed captures: compared against their summaries in test_trimmed_captures
    Case("settings.getOpenApiDocument--summary"),
    Case(
        "docker.getEvents--trimmed",
        omit={
            "$.events[].Actor.Attributes": "free-form label map of each event",
            # Docker's legacy top-level fields, on container (and image) events only; the capture's
            # first three events are network/node events (test_gap_docker_views.py checks them)
            "$.events[].status": "container/image events only",
            "$.events[].id": "container/image events only",
            "$.events[].from": "container events only",
        },
    ),
]

_STACK = "stack deploys run `docker stack deploy` (needs the docker CLI): implemented, not replayed"
NOT_REPLAYED: dict[str, str] = {
    "auth.sign-up-email--first-admin": "better-auth sign-up: the stand-in has no users, one fixed API key",
    "organization.all--session-cookie": "cookie sessions are not modelled (the x-api-key variant is)",
    "user.createApiKey--session-cookie-ratelimit-off": "API-key management is not modelled (one fixed key)",
    "user.createApiKey--x-api-key-default-ratelimit": "API-key management is not modelled (one fixed key)",
    "user.createApiKey--ratelimit-default-sequence": "API-key rate limiting is not modelled",
    "user.deleteApiKey--ok": "API-key management is not modelled (one fixed key)",
    "user.deleteApiKey--not-found": "API-key management is not modelled (one fixed key)",
    "compose.randomizeCompose--suffix": "not implemented (out of the operator's scope)",
    "compose.isolatedDeployment--suffix": "not implemented (out of the operator's scope)",
    "docker.getStackContainersByAppName--stack": _STACK,
    "compose.deploy--stack": _STACK,
    "compose.one--stack-after-stop": _STACK,
    "compose.one--stack-after-start": _STACK,
    "compose.loadServices--stack-cache": _STACK,
    "compose.redeploy--stack-right-after-stop": _STACK,
    "deployment.readLogs--stack": _STACK,
    "deployment.readLogs--stack-redeploy-right-after-stop-error": _STACK,
    "docker.getContainersByAppNameMatch--stack-appType": _STACK,
    "latency--dev-mode-benchmark": "timings, not behaviour (speed belongs in bench/)",
    "latency--prod-mode-benchmark": "timings, not behaviour (speed belongs in bench/)",
    "deployment.logfile--deploy-ok": "test_deploy_log_and_files_match_capture",
    "deployment.logfile--isolated-redeploy": "log text: the isolated redeploy replay above",
    "docker-inspect--compose-container-api": "labels/mem/healthcheck: test_template_deploy.py",
    "docker-inspect--compose-container-db": "labels/mem/healthcheck: test_template_deploy.py",
    "docker-inspect--compose-container-api-prod": "same as docker-inspect--compose-container-api",
    "docker-inspect--compose-container-api-with-domain": "test_domain_labels_reach_the_container",
    "docker-inspect--application-service": "test_application_service_spec_matches_capture",
    "docker-inspect--application-service-created-by-reload": "test_application_service_spec_matches_capture",
    "docker-inspect--application-container": "task container made by swarm (nothing the stand-in chooses)",
    "docker-inspect--compose-network-default": "network made by docker compose itself",
    "docker-inspect--compose-volume": "volume made by docker compose itself",
    "docker-inspect--dokploy-network": "pre-existing host network",
    "docker-inspect--isolated-container-web": "compose-made container on the isolated network",
    "docker-inspect--isolated-network": "network created with `--attachable` like Dokploy; not compared",
    "docker-inspect--stack-container-web": _STACK,
    "docker-inspect--stack-network-default": _STACK,
    "docker-inspect--stack-service-web": _STACK,
}
_NATIVE = "native /api/trpc surface is not implemented (the stand-in answers 501 and records it)"
NOT_REPLAYED |= {name: _NATIVE for name in all_capture_names() if name.startswith("trpc.")}
_TIMELINE = "multi-call timeline: its calls are replayed one by one above; ordering in test_timelines.py"
NOT_REPLAYED |= {
    name: _STACK if "stack" in name else _TIMELINE for name in all_capture_names() if "--timeline" in name
}

REJECTION_MESSAGES = {"Not found", "Input validation failed", "Missing content-type header"}


def is_rejection(capture: dict[str, Any]) -> bool:
    """Would the stand-in log this exchange as a request real Dokploy refuses before any procedure?"""
    response = capture["response"]
    status = response["status"]
    if status in (308, 401, 413, 415):
        return True
    if "body" not in response:
        return False
    message = response["body"].get("message") if isinstance(response["body"], dict) else response["body"]
    return status in (400, 404) and (message in REJECTION_MESSAGES or message == "Invalid JSON")


@pytest.fixture(scope="module")
def ctx() -> Iterator[Ctx]:
    context = Ctx.start()
    yield context
    context.close()


def test_every_capture_is_accounted_for() -> None:
    names = set(all_capture_names())
    replayed = [c.name for c in CASES]
    assert len(replayed) == len(set(replayed)), "a capture is replayed twice"
    assert not set(replayed) & set(NOT_REPLAYED), "a capture is both replayed and excluded"
    missing = names - set(replayed) - set(NOT_REPLAYED)
    assert not missing, f"captures neither replayed nor excluded: {sorted(missing)}"
    assert not (set(replayed) | set(NOT_REPLAYED)) - names, "table names a capture that does not exist"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_replay(case: Case, ctx: Ctx) -> None:
    if case.before:
        case.before(ctx)
    rejections_before = len(ctx.standin.rejections)
    replayed = ctx.replayer.replay(case.name, case.body(ctx) if case.body else None)
    capture = replayed.capture
    if "body" in capture["response"]:
        problems = compare(replayed, frozenset(case.omit))
        if replayed.response.status_code == capture["response"]["status"]:
            ctx.learn(production_body(capture["response"]["body"]), replayed.body)
    else:
        problems = _trimmed(case.name, replayed.response, case.omit)
    new_rejections = len(ctx.standin.rejections) - rejections_before
    if new_rejections != int(is_rejection(capture)):
        problems.append(f"recorded {new_rejections} rejections, expected {int(is_rejection(capture))}")
    if case.after:
        case.after(ctx)
    assert not problems, f"{case.name}:\n  " + "\n  ".join(problems)


def _trimmed(name: str, response: Any, omit: dict[str, str]) -> list[str]:
    """The two captures saved as summaries: compare against the summary's facts."""
    capture = load_capture(name)["response"]
    problems = [] if response.status_code == capture["status"] else [f"status {response.status_code}"]
    body = response.json()
    if name.startswith("settings.getOpenApiDocument"):
        summary = capture["body_summary"]
        if body["info"] != summary["info"]:
            problems.append(f"info: {body['info']} != {summary['info']}")
        if sorted(body) != sorted(summary["top_level_keys"]):
            problems.append(f"top-level keys: {sorted(body)}")
        if sorted(body["paths"]) != sorted(summary["paths"]):
            problems.append("path list differs from the live server's")
    else:
        expected = {
            "events": capture["body_first_3_events"]["events"],
            "fetchedAt": capture["body_first_3_events"]["fetchedAt"],
        }
        actual = {"events": body["events"][:3], "fetchedAt": body["fetchedAt"]}
        from .replay import shape_diff

        problems += shape_diff(expected, actual, omit=frozenset(omit))
    return problems
