#!/bin/sh
# The lab's FMC role, once: waits for the cloud and the connector, then
# ssesim fmc mints a token, creates the context, activates it and waits
# until the connector reports Enrolled. Exit 0 enrolled, as ssesim fmc.
#
#   LAB_CLOUD_ADDR      where the cloud's listeners are (default 127.0.0.1;
#                       compose.yaml: cloud)
#   LAB_CONNECTOR_ADDR  where the connector's local API is (default
#                       127.0.0.1; compose.yaml: connector)
#   LAB_REGION          us (default), eu or apj
#   LAB_FMC_TIMEOUT_S   give up after this long (default 180)
set -eu
LAB_PART=fmc
# shellcheck source=docker/entry/common.sh
. "$(dirname "$0")/common.sh"

LAB_CLOUD_ADDR=${LAB_CLOUD_ADDR:-127.0.0.1}
LAB_CONNECTOR_ADDR=${LAB_CONNECTOR_ADDR:-127.0.0.1}
LAB_REGION=${LAB_REGION:-us}
LAB_FMC_TIMEOUT_S=${LAB_FMC_TIMEOUT_S:-180}

lab_wait_ready "$LAB_CLOUD_PORTS"
lab_wait_ready "$LAB_CONNECTOR_PORTS"
port=$(lab_port_of "$LAB_CONNECTOR_PORTS" connector-api)
[ -n "$port" ] || lab_die "no connector-api line in $LAB_CONNECTOR_PORTS"
exec ssesim fmc --ports-file "$LAB_CLOUD_PORTS" --certs "$LAB_CERTS" \
    --cloud-address "$LAB_CLOUD_ADDR" \
    --connector "http://$LAB_CONNECTOR_ADDR:$port" --region "$LAB_REGION" \
    --timeout-s "$LAB_FMC_TIMEOUT_S"
