#!/bin/sh
# The API starts filling its session cache: 48 MiB fast, then 0.5 MiB a second toward 80 MiB.
set -eu
docker exec "$LAB_CONTAINER_API" touch /tmp/fault
