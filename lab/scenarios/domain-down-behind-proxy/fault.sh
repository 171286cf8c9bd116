#!/bin/sh
# 1. Give the compose its public domain in Dokploy, as its owner would have: the host is the
#    proxy's address (no DNS in the lab), routed to web:8080. (A baseline run gets no Dokploy
#    address and probes no domain: it skips this.)
# 2. Wait until the domain answers through the proxy, and a little longer so the server's domain
#    check has seen it up.
# 3. The fault: web's HTTP server dies; its container keeps running.
set -eu
proxy_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$LAB_CONTAINER_PROXY" | cut -d' ' -f1)
if [ -n "${LAB_DOKPLOY_URL:-}" ]; then
  curl -fsS -o /dev/null -X POST "$LAB_DOKPLOY_URL/api/domain.create" \
    -H "x-api-key: $LAB_DOKPLOY_API_KEY" -H "content-type: application/json" \
    -d "{\"host\": \"$proxy_ip\", \"path\": \"/\", \"port\": 8080, \"https\": false, \"certificateType\": \"none\", \"composeId\": \"$LAB_COMPOSE_ID\", \"serviceName\": \"web\", \"domainType\": \"compose\"}"
fi
i=0
until curl -fsS -m 2 -o /dev/null "http://$proxy_ip/"; do
  i=$((i + 1))
  [ "$i" -lt 30 ] || { echo "the domain never answered through the proxy" >&2; exit 1; }
  sleep 1
done
sleep 4
docker exec "$LAB_CONTAINER_WEB" sh -c 'kill $(pidof httpd)'
