#!/bin/sh
# Both faults at once: the main stack's API starts its OOM loop, the billing stack's worker its
# missing-env crash loop. The shop stack is left alone.
set -eu
docker exec "$LAB_CONTAINER_API" touch /tmp/fault
docker exec "$LAB_BILLING_CONTAINER_WORKER" touch /tmp/fault
