#!/usr/bin/env bash
# Installs what the tests need and runs the whole test suite (unit, API, real clients, real VMs).
#   ./test.sh                        everything
#   ./test.sh --filter Category=X    extra arguments go to `dotnet test`
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

./run.sh --setup-only
# VM tests boot this image; building it once here keeps the tests from racing to build it.
EMBER_GUEST_IMAGE=$(tools/guest-image/build.sh | tail -n 1)
export EMBER_GUEST_IMAGE

dotnet build Ember.slnx --nologo -v quiet
dotnet format Ember.slnx --verify-no-changes --no-restore
dotnet test Ember.slnx --no-build --nologo "$@"
