#!/bin/sh
# The reindex job starts spinning on one batch, at its whole CPU quota, on the CPU the api uses.
# (/tmp/fault is removed at once: a restart of the job brings it back idle, waiting for work.)
set -eu
docker exec "$LAB_CONTAINER_REINDEX" touch /tmp/fault
