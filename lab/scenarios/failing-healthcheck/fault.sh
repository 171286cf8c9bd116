#!/bin/sh
# The API's HTTP server dies inside a container that keeps running: the health check fails from now
# on, until a restart starts the server again.
set -eu
docker exec "$LAB_CONTAINER_API" sh -c 'kill "$(cat /tmp/httpd.pid)"'
