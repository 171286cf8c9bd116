#!/bin/sh
# Someone restarts the app (a manual `docker restart`, a host agent's self-heal): it gets a new
# network namespace; the sidecar that shared the old one is left orphaned in it.
set -eu
docker restart -t 1 "$LAB_CONTAINER_APP" >/dev/null
