#!/bin/sh
# The vector DB starts indexing: 15 MiB into its 16 MiB volume over ~10 s. The short wait first lets
# the server's disk detector see the volume empty, so it measures the growth from the start.
set -eu
sleep 3
docker exec "$LAB_CONTAINER_QDRANT" touch /tmp/go
