#!/bin/sh
# The database goes down: its container is stopped (as a crashed host process or an operator's
# mistake would leave it) and Docker's restart policy does not bring it back.
set -eu
docker stop -t 1 "$LAB_CONTAINER_DB" >/dev/null
