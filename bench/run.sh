#!/usr/bin/env bash
# make bench: every benchmark under bench/, figures on stdout.
set -euo pipefail
BIN=${1:-build/bin}
here=$(cd "$(dirname "$0")" && pwd)
"$here/pipeline.sh" "$BIN"
