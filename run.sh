#!/usr/bin/env bash
# Sets up and runs Ember on this machine: Debian packages, .NET build, guest image, then `ember serve`.
# Idempotent; a second run skips what is already done.
#   ./run.sh                    set up, then run the cloud in the foreground
#   ./run.sh --setup-only       set up and stop (for scripts and CI)
#   ./run.sh --listen 0.0.0.0:5000 --data-dir /srv/ember    extra arguments go to `ember serve`
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

setup_only=false
serve_args=()
for arg in "$@"; do
  if [[ "$arg" == "--setup-only" ]]; then setup_only=true; else serve_args+=("$arg"); fi
done

say() { printf 'ember: %s\n' "$*" >&2; }

tools/install-deps.sh

# Build only when a source file changed since the last build.
stamp=artifacts/ember/.source-hash
hash=$(find src Directory.Build.props Directory.Packages.props global.json -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' -o -name '*.js' -o -name '*.css' \) \
  -not -path '*/bin/*' -not -path '*/obj/*' -not -path '*/node_modules/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [[ ! -x artifacts/ember/ember || "$(cat "$stamp" 2>/dev/null)" != "$hash" ]]; then
  say "building (dotnet publish, Release: the ember CLI with Native AOT, ember-server beside it)"
  dotnet publish src/Ember/Ember.csproj -c Release -o artifacts/ember --nologo -v quiet >&2
  dotnet publish src/Ember.Serve/Ember.Serve.csproj -c Release -o artifacts/ember --nologo -v quiet >&2
  echo "$hash" > "$stamp"
fi
mkdir -p bin
ln -sfn ../artifacts/ember/ember bin/ember
# The same executable answers to the seed's 2015 command names.
for name in cinder nova glance; do ln -sfn ember "bin/$name"; done

say "guest image"
image=$(tools/guest-image/build.sh | tail -n 1)

if $setup_only; then
  say "set up: bin/ember, bin/cinder, bin/nova, bin/glance; guest image $image"
  exit 0
fi

# As root, servers get network interfaces: a bridge per network, a tap per port and a dnsmasq in a namespace, all
# named emb*/ember-* (docs/network.md). Set EMBER_Network__HostNetworking=false to keep the host untouched.
# DevStack's external network "public" (172.24.4.0/24) comes with it; the host gets its gateway 172.24.4.1 on the
# external network's bridge (as DevStack's br-ex), so floating IPs answer from this machine.
if [[ $(id -u) -eq 0 ]]; then
  export EMBER_Network__HostNetworking=${EMBER_Network__HostNetworking:-true}
  if [[ $EMBER_Network__HostNetworking == true ]]; then
    export EMBER_Network__External__Name=${EMBER_Network__External__Name:-public}
    export EMBER_Network__External__BridgeHasGateway=${EMBER_Network__External__BridgeHasGateway:-true}
  fi
fi

exec bin/ember serve --default-image "$image" "${serve_args[@]}"
