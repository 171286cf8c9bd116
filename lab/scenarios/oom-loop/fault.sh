#!/bin/sh
# Start the OOM loop: the API finds /tmp/fault and allocates 40 MiB under its 32 MiB limit.
# The harness sets LAB_APP_NAME, LAB_PROJECT, LAB_CONTAINERS (JSON service -> container name)
# and LAB_CONTAINER_<SERVICE> (here LAB_CONTAINER_API).
set -eu
docker exec "$LAB_CONTAINER_API" touch /tmp/fault
