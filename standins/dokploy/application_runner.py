"""Application deployments from the queue: `docker pull` (deploy) and the swarm service update.

Only `sourceType: "docker"` can be honoured offline; git/github/... sources fail in the log.
Offline, `docker pull` fails exactly as captured, so deploy ends in `error`; redeploy and reload
do not pull and run a local image.
"""

from __future__ import annotations

from pathlib import Path

from .compose_runner import FAIL_TAIL, append_log, create_deployment
from .ids import now_iso
from .queue import Job
from .swarm import application_spec, deploy_service, pull_image
from .world import World


async def run_application_job(world: World, job: Job) -> None:
    app = world.db.applications.get(job.service_id)
    if app is None:
        return
    app["applicationStatus"] = "running"
    deployment = create_deployment(world, app, job, "applicationId")
    log_path = Path(deployment["logPath"])
    ok = await _build(world, app, log_path, pull=job.type == "deploy")
    if not ok:
        append_log(log_path, FAIL_TAIL)
    deployment["status"] = "done" if ok else "error"
    deployment["finishedAt"] = now_iso()
    app["applicationStatus"] = "done" if ok else "error"


async def _build(world: World, app: dict, log_path: Path, pull: bool) -> bool:
    if app["sourceType"] != "docker":
        append_log(
            log_path,
            f"❌ Has occurred an error: the Dokploy stand-in cannot build '{app['sourceType']}' "
            "sources (offline); use sourceType docker\n",
        )
        return False
    image = app["dockerImage"] or "ERROR-NO-IMAGE-PROVIDED"
    if pull:
        append_log(log_path, f"Pulling {image}\n")
        error = await world.in_thread(pull_image, world, image)
        if error is not None:
            append_log(log_path, f"{error}\n❌ Pulling image failed\n")
            return False
        append_log(log_path, "✅ Pulling image completed\n")
    try:
        await world.in_thread(deploy_service, world, application_spec(world, app))
    except Exception as exc:  # docker API errors end the deployment in `error`
        append_log(log_path, f"❌ Has occurred an error: {exc}\n")
        return False
    append_log(log_path, "Docker Deployed: ✅\n")
    return True
