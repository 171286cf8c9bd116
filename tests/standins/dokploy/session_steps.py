"""Setup steps between replayed captures: they rebuild the state the capture session had.

Each step drives the stand-in through its HTTP API (as the capture session drove real Dokploy) and
records which stand-in id stands for which captured id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .scenario import CAPHOOK_FILE, UNHEALTHY_FILE, Ctx, fast_body, slow_file

Step = Callable[[Ctx], None]


def project_x(ctx: Ctx) -> None:
    ctx.project("4Qcbk4QrfeI_ReR6X0wK0", "jjqNKsfxnvKHpxqJ3Vlx0", "x")


def deploy_capdemo(ctx: Ctx) -> None:
    ctx.deploy("x2i8xcknObKu2IjCtumbL")
    ctx.map_latest_deployment("w3rlFeBm6qFgoKq8CTq1r", compose="x2i8xcknObKu2IjCtumbL")
    ctx.map_container("96ae61bbf3f3", "capdemo-qiqp6p", "api")


def wait_map(capture_deployment: str, compose: str) -> Step:
    def run(ctx: Ctx) -> None:
        ctx.wait()
        ctx.map_latest_deployment(capture_deployment, compose=compose)

    return run


def seventh_deploy(ctx: Ctx) -> None:
    good = fast_body("compose.update--composeFile")["composeFile"]
    ctx.call("POST", "compose.update", composeId=ctx.real("x2i8xcknObKu2IjCtumbL"), composeFile=good)
    ctx.deploy("x2i8xcknObKu2IjCtumbL")


def caphook(ctx: Ctx) -> None:
    row = ctx.compose(
        "P14J4c5SxoU6zW4PA5EUs", "caphook-xz1bq8", "yc7qDrIeLxnSWg0SoQnol", "caphook", CAPHOOK_FILE
    )
    ctx.ids["<SECRET>"] = row["refreshToken"]


def isolated_redeploy(ctx: Ctx) -> None:
    ctx.deploy("P14J4c5SxoU6zW4PA5EUs", redeploy=True)
    ctx.map_latest_deployment("Gx7baEwMKGzsSSdDh5J2Y", compose="P14J4c5SxoU6zW4PA5EUs")


def queued_1(ctx: Ctx) -> None:
    ctx.deploy("P14J4c5SxoU6zW4PA5EUs", wait=False, title="queued-1")


def queued_3(ctx: Ctx) -> None:
    ctx.deploy("P14J4c5SxoU6zW4PA5EUs", redeploy=True, title="queued-3")
    ctx.map_container("654315c9a9a7", "caphook-xz1bq8", "web")


def capthree_deploy(ctx: Ctx) -> None:
    ctx.deploy("M71Aq6JUPrRYAP135fPOq")
    ctx.map_latest_deployment("wvCyOwm4NGPCt4sE0oNYB", compose="M71Aq6JUPrRYAP135fPOq")
    ctx.map_container("1e7e7b5a73ef", "capthree-qcpnnb", "one")


def capsvc(ctx: Ctx) -> None:
    ctx.project("Jjy7Qq4OB4t15gcmyT-FJ", "Z1O32V3xQdAdRZ9fB8iYT", "capture-app")
    app = ctx.call(
        "POST",
        "application.create",
        name="capsvc",
        appName="capsvc",
        environmentId=ctx.real("Z1O32V3xQdAdRZ9fB8iYT"),
    )
    ctx.ids["TY-VlwDRCKvd38MlCNqf9"] = app["applicationId"]
    ctx.ids["capsvc-wibxia"] = app["appName"]
    ctx.call(
        "POST",
        "application.saveDockerProvider",
        applicationId=app["applicationId"],
        dockerImage="ig/busybox:test",
        username=None,
        password=None,
        registryUrl=None,
    )


def capslow_running(ctx: Ctx) -> None:
    ctx.project("CIS3gueLYJTvZ-Da0BjoG", "IsOpvZrxm4e16JVPssF3h", "capture-slow")
    ctx.compose(
        "uaHnALLlqxpP3Jc0dLs4d", "capslow-sioubf", "IsOpvZrxm4e16JVPssF3h", "capslow", slow_file(3, "a")
    )


def capslow_second(ctx: Ctx) -> None:
    ctx.deploy("uaHnALLlqxpP3Jc0dLs4d", redeploy=True, wait=False, title="slow-2-queued")
    ctx.map_latest_deployment("vSCP8KOTEoGjHsJl3gh8w", compose="uaHnALLlqxpP3Jc0dLs4d")
    # a changed file makes the queued redeploy recreate db and wait for its health again
    ctx.call(
        "POST", "compose.update", composeId=ctx.real("uaHnALLlqxpP3Jc0dLs4d"), composeFile=slow_file(3, "b")
    )


def only_second_active(ctx: Ctx) -> None:
    ctx.wait_for_queue(
        lambda q: len(q) == 1 and q[0]["state"] == "active" and q[0]["data"]["titleLog"] == "slow-2-queued"
    )


def capslow_done(ctx: Ctx) -> None:
    ctx.wait()
    ctx.map_latest_deployment("1FxF0_3EfuWKjjNxcUyYu", compose="uaHnALLlqxpP3Jc0dLs4d")
    ctx.ids["i6kJB3FKCRWVn8wU5e9W1"] = ctx.real("1FxF0_3EfuWKjjNxcUyYu")


def unhealthy_running(ctx: Ctx) -> None:
    ctx.call(
        "POST", "compose.update", composeId=ctx.real("uaHnALLlqxpP3Jc0dLs4d"), composeFile=UNHEALTHY_FILE
    )
    ctx.deploy("uaHnALLlqxpP3Jc0dLs4d", wait=False)
    ctx.wait_for_queue(lambda q: len(q) == 1 and q[0]["state"] == "active")
    ctx.map_latest_deployment("i1irRtZ1jE6q2knWbPfjs", compose="uaHnALLlqxpP3Jc0dLs4d")


def unhealthy_done(ctx: Ctx) -> None:
    ctx.wait()
    ctx.ids["vSCP8KOTEoGjHsJl3gh8w"] = ctx.real("i1irRtZ1jE6q2knWbPfjs")


def clean_before_prod(ctx: Ctx) -> None:
    """The production captures start from a host with one empty project ("x") and no containers."""
    for compose in ("M71Aq6JUPrRYAP135fPOq", "uaHnALLlqxpP3Jc0dLs4d"):
        ctx.call("POST", "compose.delete", composeId=ctx.real(compose), deleteVolumes=True)
    for project in (
        "xF7HD1bDk3wbdUH1U4qGp",
        "CO5GX7kRndYn4FcAQ58mh",
        "Jjy7Qq4OB4t15gcmyT-FJ",
        "CIS3gueLYJTvZ-Da0BjoG",
    ):
        ctx.call("POST", "project.remove", projectId=ctx.real(project))


def prod_deploy(ctx: Ctx) -> None:
    ctx.deploy("G8gH-bn6Ypg8qK7dwuOW3")
    ctx.map_latest_deployment("hXanG4P60Gv_N5D9yZJB_", compose="G8gH-bn6Ypg8qK7dwuOW3")


def body(name: str) -> Callable[[Ctx], Any]:
    return lambda ctx: fast_body(name)
