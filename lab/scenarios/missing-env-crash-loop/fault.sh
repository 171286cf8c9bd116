#!/bin/sh
# From now on the API exits 1 on every start: DATABASE_URL "is not set".
set -eu
docker exec "$LAB_CONTAINER_API" touch /tmp/fault
