"""All implemented Dokploy procedures, registered by importing their router modules."""

from . import application, compose, databases, deployment, docker, domain, misc, project
from .base import PROCEDURES, VOID, Handler

__all__ = [
    "PROCEDURES",
    "VOID",
    "Handler",
    "application",
    "compose",
    "databases",
    "deployment",
    "docker",
    "domain",
    "misc",
    "project",
]
