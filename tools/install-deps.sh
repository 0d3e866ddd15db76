#!/usr/bin/env bash
# Installs the Debian packages listed in tools/debian-packages.txt that are missing.
# Idempotent and quick when everything is present (one dpkg-query, no apt-get update).
#   tools/install-deps.sh             every package of the list
#   tools/install-deps.sh PKG...      only these (each must be on the list), for scripts that need a few
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$here/debian-packages.txt")
if (($# > 0)); then
  for pkg in "$@"; do
    printf '%s\n' "${wanted[@]}" | grep -qxF -- "$pkg" || { echo "install-deps: $pkg is not in debian-packages.txt" >&2; exit 2; }
  done
  wanted=("$@")
fi
missing=()
for pkg in "${wanted[@]}"; do
  # npm also comes with other Node.js builds (NodeSource's nodejs provides it): any npm on PATH will do.
  [[ $pkg == npm ]] && command -v npm >/dev/null && continue
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "ember: installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

# PostgreSQL and Ceph are here for the tests, which start throwaway clusters of their own: the packages must neither
# create a default cluster nor start anything. postgresql-common reads create_main_cluster before it would create
# one; a policy-rc.d that says 101 ("action forbidden") keeps invoke-rc.d/deb-systemd-invoke from starting services
# (postgresql, ceph-mon/osd/mgr and their targets) during this install only.
policy=/usr/sbin/policy-rc.d
own_policy=false
cleanup() { if $own_policy; then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
  conf=/etc/postgresql-common/createcluster.conf
  "${sudo_cmd[@]}" mkdir -p "$(dirname "$conf")"
  if ! grep -qsE '^\s*create_main_cluster\s*=\s*false' "$conf"; then
    "${sudo_cmd[@]}" sh -c "sed -i '/^\s*create_main_cluster\s*=/d' '$conf' 2>/dev/null; echo 'create_main_cluster = false' >> '$conf'"
  fi
fi
if [[ " ${missing[*]} " =~ \ (postgresql|ceph-mon|ceph-osd|ceph-mgr)\  ]] && [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# ember install-deps: no service starts while packages install\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  own_policy=true
fi

"${sudo_cmd[@]}" apt-get update -qq
# Keep the createcluster.conf written above: postgresql-common installs its own through ucf, which would ask.
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
