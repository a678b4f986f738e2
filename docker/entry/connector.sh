#!/bin/sh
# The lab's connector: writes connector.properties, connector.yaml, the
# trust and the host map under $LAB_ROOT (the host map from the cloud's
# listeners: every emulated host:443 at $LAB_CLOUD_ADDR:<its port>), then
# runs sse-connector. Its local API port goes to $LAB_SHARE/connector.ports.
#
#   LAB_CLOUD_ADDR         where the cloud's listeners are (default
#                          127.0.0.1; compose.yaml: cloud)
#   LAB_CONNECTOR_PORT     the local API's port (default 0: any)
#   LAB_CONNECTOR_INTERFACE  localhost (default) or all; compose.yaml: all,
#                          so that the FMC container and the published
#                          port reach it
#   LAB_LOG_LEVEL          the connector's log_level (default info)
set -eu
LAB_PART=connector
# shellcheck source=docker/entry/common.sh
. "$(dirname "$0")/common.sh"

LAB_CLOUD_ADDR=${LAB_CLOUD_ADDR:-127.0.0.1}
LAB_CONNECTOR_PORT=${LAB_CONNECTOR_PORT:-0}
LAB_CONNECTOR_INTERFACE=${LAB_CONNECTOR_INTERFACE:-localhost}
LAB_LOG_LEVEL=${LAB_LOG_LEVEL:-info}

etc=$LAB_ROOT/ngfw/etc/sf
mkdir -p "$etc" "$LAB_SHARE" "$LAB_RUN"
rm -f "$LAB_CONNECTOR_PORTS"

lab_say "waiting for the cloud's listeners in $LAB_CLOUD_PORTS"
lab_wait_ready "$LAB_CLOUD_PORTS"
[ -f "$LAB_CERTS/connectorCA.pem" ] ||
    lab_die "$LAB_CERTS/connectorCA.pem is missing"
cp "$LAB_CERTS/connectorCA.pem" "$etc/connectorCA.pem"

# One curl --connect-to line per emulated host; the admin API and the
# proxy are not hosts the connector dials.
to_map='s/.*"host":"\([^"]*\)","port":\([0-9]*\).*/\1:443:'
grep '"host"' "$LAB_CLOUD_PORTS" |
    grep -v -e '"service":"admin"' -e '"service":"proxy"' |
    sed "$to_map$LAB_CLOUD_ADDR:\\2/" >"$etc/sse-hosts.map.tmp"
[ -s "$etc/sse-hosts.map.tmp" ] || lab_die "no hosts in $LAB_CLOUD_PORTS"
mv "$etc/sse-hosts.map.tmp" "$etc/sse-hosts.map"

cat >"$etc/connector.properties" <<PROPS
registration_interval=180
connector_port=$LAB_CONNECTOR_PORT
connector_fqdn=ftd-lab.example.com
region_discovery_endpoint=https://api-sse.cisco.com/providers/sse/api/v1/regions
sudi_registration_fqdn=
sign_type=
PROPS
cat >"$etc/connector.yaml" <<SETTINGS
Globals:
  server_port: $LAB_CONNECTOR_PORT
  interface: $LAB_CONNECTOR_INTERFACE
  Log:
    log_type: file
    log_level: $LAB_LOG_LEVEL
SETTINGS

sse-connector --root "$LAB_ROOT" --check >"$LAB_RUN/check.out" 2>&1 ||
    lab_die "configuration refused: $(cat "$LAB_RUN/check.out")"
lab_say "host map $etc/sse-hosts.map ($(wc -l <"$etc/sse-hosts.map") hosts" \
    "at $LAB_CLOUD_ADDR), log $LAB_ROOT/ngfw/var/log/connector/connector.log"
lab_run_child sse-connector --root "$LAB_ROOT" \
    --ports-file "$LAB_CONNECTOR_PORTS"
