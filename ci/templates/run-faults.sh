#!/bin/sh
# sselab's fault scenarios for any CI system that runs a shell script at
# the top of a sselab checkout (Jenkins, Buildkite, a cron job...): install
# what is missing, build, play scenarios/faults. It leaves
#   ssesim-out/junit.xml   for the CI system's JUnit publisher
#   ssesim-out/artifacts/  an artefact folder per failed scenario
# and exits as ssesim run does: 0 all passed, 1 a scenario failed, 2 a bad
# scenario file, 3 the harness could not run.
set -eu

ci/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j 2
mkdir -p ssesim-out
rc=0
build/bin/ssesim run --jobs 2 --junit ssesim-out/junit.xml \
    --artifacts ssesim-out/artifacts scenarios/faults || rc=$?
echo "run-faults: ssesim run exited $rc; JUnit in ssesim-out/junit.xml," \
    "artefacts of failures in ssesim-out/artifacts/"
exit "$rc"
