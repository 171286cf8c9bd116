#!/bin/sh
# The worker takes job 42 and hangs on its step 3/5, silent and idle.
set -eu
docker exec "$LAB_CONTAINER_WORKER" touch /tmp/fault
