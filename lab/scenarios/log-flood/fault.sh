#!/bin/sh
# From now on every start of the API floods 200,000 log lines, one of them the cause, and exits 1.
set -eu
docker exec "$LAB_CONTAINER_API" touch /tmp/fault
