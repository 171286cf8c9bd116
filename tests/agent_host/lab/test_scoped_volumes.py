"""The run's scope label goes on every named volume too: the server's disk detector watches only
volumes with the lab's labels, so an unlabelled volume filling up would never be seen."""

from __future__ import annotations

import yaml

from agent_host.lab.stage import scoped_compose

COMPOSE = """
services:
  db:
    image: ig/busybox:test
    volumes: [data:/data, cache:/cache, shared:/shared]
volumes:
  data:
    driver_opts: {type: tmpfs, device: tmpfs, o: size=16m}
    labels: [team=db]
  cache:
  shared:
    external: true
"""


def test_named_volumes_carry_the_scope_label_and_keep_their_own() -> None:
    scoped = yaml.safe_load(scoped_compose(COMPOSE, {"ig.lab": "vol-1234"}))
    volumes = scoped["volumes"]
    assert volumes["data"] == {
        "driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"},
        "labels": {"team": "db", "ig.lab": "vol-1234"},
    }
    assert volumes["cache"] == {"labels": {"ig.lab": "vol-1234"}}
    # an external volume is not the stack's: compose refuses labels on it
    assert volumes["shared"] == {"external": True}
    assert scoped["services"]["db"]["labels"] == {"ig.lab": "vol-1234"}
