#!/usr/bin/env bash
# Runs OpenStack's Tempest API tests against Ember: identity v3, image v2, volume v3, compute v2.1 and, when the
# network service is configured (below), network v2; serially.
#   conformance/tempest.sh                   a fresh `ember serve` on loopback with a temporary data dir (stopped after).
#                                            As root its data plane is on (Network:HostNetworking, the external network
#                                            "public" on 172.24.40.0/24, interfaces emt*, namespaces ember-tempest-*, one
#                                            such run at a time) and Tempest runs with Neutron; --no-network keeps it off
#   conformance/tempest.sh --url URL         an Ember already running at URL; its admin password in EMBER_ADMIN_PASSWORD.
#                                            Tempest's dynamic credentials make admins of fresh projects: that Ember must
#                                            run with Identity:AdminProjectName "" (docs/conformance.md), as a fresh one does
#   conformance/tempest.sh --openstack AUTH_URL
#                                            a real OpenStack cloud instead, e.g. the Keystone + Cinder anchor
#                                            (../shared/anchors/openstack): AUTH_URL is Keystone's v3 root, the admin
#                                            password in OS_PASSWORD (`. /tmp/osanchor/adminrc`); identity and volume only
#   --subset smoke                           the fast identity + volume list of conformance/tempest-smoke.txt
#   --regex REGEX                            only the tests of those services that match REGEX as well (not with --subset)
#   --no-network                             a fresh Ember without its data plane, Tempest without Neutron (as without root)
#   --no-exclude                             run the tests conformance/tempest-exclude.txt lists too (to see which of
#                                            them a real cloud passes)
#   --workspace DIR                          the Tempest workspace (config, logs, results); default a new temp dir
#   --concurrency N                          test workers, 1 (default) or 2: this is a 2-core machine
# Tests listed in conformance/tempest-exclude.txt (one regex and its reason per line) are not run.
# Prints excluded/run/pass/skip/fail per service (a class whose setup failed or skipped counts once); exits 0 only when
# no test failed. The workspace keeps everything: etc/tempest.conf, tempest.log (every request), tempest-run.log, the
# stestr results (.stestr), results.csv, selected.txt and, for a fresh Ember, ember-serve.log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
PY=/usr/bin/python3  # a pyenv shim may shadow python3

url="" openstack="" exclude=$here/tempest-exclude.txt subset="" regex="" workspace="" concurrency=1 network=true
while (($#)); do
  case $1 in
    --url) url=${2:?--url needs a URL}; shift 2 ;;
    --openstack) openstack=${2:?--openstack needs the Keystone v3 URL}; shift 2 ;;
    --no-exclude) exclude=/dev/null; shift ;;
    --no-network) network=false; shift ;;
    --subset) subset=${2:?--subset needs a name}; shift 2 ;;
    --regex) regex=${2:?--regex needs a regex}; shift 2 ;;
    --workspace) workspace=${2:?--workspace needs a directory}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tempest.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $concurrency =~ ^[12]$ ]] || { echo "tempest.sh: --concurrency is 1 or 2" >&2; exit 2; }
[[ -z $subset || -f $here/tempest-$subset.txt ]] || { echo "tempest.sh: no subset $subset ($here/tempest-$subset.txt)" >&2; exit 2; }
[[ -z $url || -z $openstack ]] || { echo "tempest.sh: --url and --openstack do not combine" >&2; exit 2; }
[[ -z $openstack || -n ${OS_PASSWORD:-} ]] || { echo "tempest.sh: with --openstack, set OS_PASSWORD to the cloud's admin password" >&2; exit 2; }
[[ -z $subset || -z $regex ]] || { echo "tempest.sh: --subset and --regex do not combine" >&2; exit 2; }
say() { printf 'tempest.sh: %s\n' "$*" >&2; }

"$repo/tools/install-deps.sh" tempest

workspace=${workspace:-$(mktemp -d /tmp/ember-tempest.XXXXXX)}
mkdir -p "$workspace"
workspace=$(cd "$workspace" && pwd)
# `tempest init` wants a directory of its own to create, and keeps its registry of workspaces in it (not ~/.tempest).
if [[ ! -f $workspace/.stestr.conf ]]; then
  rmdir "$workspace" || { echo "tempest.sh: $workspace is neither empty nor a Tempest workspace" >&2; exit 2; }
  tempest init --workspace-path "$workspace/workspaces.yaml" "$workspace" > /dev/null
fi
chmod 700 "$workspace"

ember_pid=""
data_dir=""
# The data plane's names for a fresh Ember with networking (docs/network.md): prefixes of its own, so neither this run
# nor another Ember on the machine (the default emb*/ember-*) removes what the other made.
if_prefix=emt ns_prefix=ember-tempest
host_networking=false
sweep_network() {
  # What the stopped Ember left of its data plane: said (a leftover is a bug to look at), then removed.
  local left
  left=$( (ip netns list | awk '{print $1}' | grep -E "^$ns_prefix-" || true
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^$if_prefix[bdtrv][0-9a-f]{11}\$" || true
    nft list tables 2>/dev/null | grep -E " ${if_prefix}(_tunnel)?\$" || true) | paste -sd' ')
  [[ -z $left ]] || say "ember serve left: $left (removing)"
  local ns link
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$ns_prefix-" || true); do
    ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^$if_prefix[bdtrv][0-9a-f]{11}\$" || true); do
    ip link delete "$link" 2>/dev/null || true
  done
  for table in "bridge $if_prefix" "inet $if_prefix" "bridge ${if_prefix}_tunnel"; do
    nft delete table $table 2>/dev/null || true
  done
}
stop_ember() {
  if [[ -n $ember_pid ]]; then
    kill -TERM "$ember_pid" 2>/dev/null || true
    wait "$ember_pid" 2>/dev/null || true
    ember_pid=""
  fi
  ! $host_networking || sweep_network
  [[ -z $data_dir ]] || rm -rf "$data_dir"
}
trap stop_ember EXIT

if [[ -n $openstack ]]; then
  "$PY" "$here/tempest_setup.py" --openstack "$openstack" "$workspace"
elif [[ -z $url ]]; then
  ember=${EMBER_BIN:-$repo/artifacts/ember/ember}
  [[ -x $ember ]] || (cd "$repo" && ./run.sh --setup-only)
  image=$("$repo/tools/guest-image/build.sh" | tail -n 1)
  data_dir=$(mktemp -d /tmp/ember-tempest-data.XXXXXX)
  port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url=http://127.0.0.1:$port
  # The passwords reach ember serve and Tempest through the environment only, fresh ones per run (a generated demo
  # password would be printed into the serve log).
  new_password() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(24))'; }
  EMBER_ADMIN_PASSWORD=${EMBER_ADMIN_PASSWORD:-$(new_password)}
  EMBER_DEMO_PASSWORD=$(new_password)
  export EMBER_ADMIN_PASSWORD EMBER_DEMO_PASSWORD
  # Keystone's admin_project_name unset, as DevStack runs it: Tempest's dynamic admins are admins of fresh projects.
  printf 'Identity:\n  AdminProjectName: ""\n' > "$workspace/ember.yaml"
  if $network && ((EUID == 0)); then
    # As ./run.sh as root: servers get interfaces and DevStack's external network "public" is made at start (on a
    # range of its own, and without the host's address on its bridge: Tempest here does not reach guests over SSH).
    exec 9> /tmp/ember-tempest-network.lock
    flock -n 9 || { echo "tempest.sh: another run with networking holds /tmp/ember-tempest-network.lock (--no-network runs beside it)" >&2; exit 1; }
    host_networking=true
    sweep_network
    printf 'Network:\n  HostNetworking: true\n  InterfacePrefix: %s\n  NamespacePrefix: %s\n  External:\n    Name: public\n    Cidr: 172.24.40.0/24\n' \
      "$if_prefix" "$ns_prefix" >> "$workspace/ember.yaml"
  else
    printf 'Network:\n  HostNetworking: false\n' >> "$workspace/ember.yaml"
  fi
  say "starting ember serve on $url (data dir $data_dir, log $workspace/ember-serve.log)"
  "$ember" serve --config "$workspace/ember.yaml" --data-dir "$data_dir" --listen "127.0.0.1:$port" --default-image "$image" \
    > "$workspace/ember-serve.log" 2>&1 < /dev/null &
  ember_pid=$!
  up=false
  for _ in $(seq 600); do
    if curl -sf -o /dev/null "$url/identity/v3"; then up=true; break; fi
    kill -0 "$ember_pid" 2>/dev/null || break
    sleep 0.1
  done
  $up || { echo "tempest.sh: ember serve did not come up:" >&2; tail -20 "$workspace/ember-serve.log" >&2; exit 1; }
fi
if [[ -z $openstack ]]; then
  [[ -n ${EMBER_ADMIN_PASSWORD:-} ]] || { echo "tempest.sh: with --url, set EMBER_ADMIN_PASSWORD to the cloud's admin password" >&2; exit 2; }
  "$PY" "$here/tempest_setup.py" "$url" "$workspace"
fi

# The services, narrowed by --regex through a lookahead (tempest run takes one --regex); or the subset's list
# alone (stestr adds an include list's tests to those of --regex rather than narrowing them).
# Network v2 only when tempest.conf has Neutron (tempest_setup.py turns it on when Ember's data plane is up).
services='identity\.(admin\.)?v3|image\.v2|volume|compute'
! grep -q '^neutron = True' "$workspace/etc/tempest.conf" || services+='|network'
select=(--regex "^${regex:+(?=.*(${regex}))}tempest\.api\.(${services})\.")
[[ -z $subset ]] || select=(--include-list "$here/tempest-$subset.txt")
# The selection before the exclude list, to count what it leaves out.
(cd "$workspace" && tempest run --list-tests "${select[@]}" | grep '^tempest\.' > selected.txt)
say "running Tempest (concurrency $concurrency), workspace $workspace"
set +e
(cd "$workspace" && tempest run --concurrency "$concurrency" "${select[@]}" --exclude-list "$exclude") \
  > "$workspace/tempest-run.log" 2>&1
set -e
# stestr last and subunit2csv exit 1 when the run had failures; the summary below counts them.
(cd "$workspace" && stestr last --subunit | subunit2csv > results.csv) || true
"$PY" - "$workspace/results.csv" "$workspace/selected.txt" "$exclude" <<'PYEOF'
import csv, re, sys
names = [("identity", r"tempest\.api\.identity\."), ("image", r"tempest\.api\.image\."),
         ("volume", r"tempest\.api\.volume\."), ("compute", r"tempest\.api\.compute\."),
         ("network", r"tempest\.api\.network\.")]
counts = {n: {"excluded": 0, "run": 0, "pass": 0, "skip": 0, "fail": 0} for n, _ in names}
excludes = [re.compile(line.split("#")[0].strip()) for line in open(sys.argv[3]) if line.split("#")[0].strip()]
for test in open(sys.argv[2]).read().split():
    service = next((n for n, p in names if re.match(p, test)), None)
    if service and any(r.search(test) for r in excludes):
        counts[service]["excluded"] += 1
failed = []
for row in csv.DictReader(open(sys.argv[1])):
    test = row["test"]
    service = next((n for n, p in names if re.match(p, test)), None)
    if service is None:  # setUpClass/tearDownClass rows carry the class name after the method
        m = re.search(r"\((tempest\.api\.[\w.]+)\)", test)
        service = next((n for n, p in names if m and re.match(p, m.group(1))), None)
    if service is None:
        continue
    c = counts[service]
    c["run"] += 1
    status = row["status"]
    if status in ("success", "xfail"):
        c["pass"] += 1
    elif status == "skip":
        c["skip"] += 1
    else:
        c["fail"] += 1
        failed.append(test)
keys = ("excluded", "run", "pass", "skip", "fail")
print(f"{'service':<10}" + "".join(f"{k:>10}" for k in keys))
for n, c in counts.items():
    print(f"{n:<10}" + "".join(f"{c[k]:>10}" for k in keys))
total = {k: sum(c[k] for c in counts.values()) for k in keys}
print(f"{'total':<10}" + "".join(f"{total[k]:>10}" for k in keys))
for t in failed:
    print("FAILED", t)
sys.exit(1 if total["fail"] or not total["run"] else 0)
PYEOF
