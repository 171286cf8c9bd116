#!/bin/sh
# The API starts loading its order index (40 MiB) under a 32 MiB limit: an OOM loop, while the web
# service keeps shouting about its missing favicon.
set -eu
docker exec "$LAB_CONTAINER_API" touch /tmp/fault
