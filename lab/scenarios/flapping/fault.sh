#!/bin/sh
# From now on the API crashes 10 s after every start.
set -eu
docker exec "$LAB_CONTAINER_API" touch /tmp/fault
