#!/bin/sh
# Install what sselab needs from Debian 12's packages, skipping what is there.
# Without root, print the one apt-get line to run and fail.
set -eu

PKGS="build-essential cmake make pkg-config gcc curl openssl clang-format \
iproute2 jq libssl-dev libmicrohttpd-dev libwebsockets-dev libzmq3-dev \
libjansson-dev libyaml-dev check libcurl4-openssl-dev zlib1g-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

cmd="apt-get update && apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing" >&2
	echo "install-deps: run as root: $cmd" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
