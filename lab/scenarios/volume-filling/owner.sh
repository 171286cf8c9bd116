#!/bin/sh
# The owner, as root on the engine's host, does what the approval asked: grow the tmpfs volume in
# place to 32m with the remount command the request gave (the data stays).
set -eu
volume="${LAB_APP_NAME}_qdrant_data"
mountpoint="$(docker volume inspect -f '{{.Mountpoint}}' "$volume")"
mount -o remount,size=32m "$mountpoint"
