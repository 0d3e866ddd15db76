#!/usr/bin/env bash
# Boot trace: where the time goes from `POST /servers` to the guest agent answering, under TCG on this machine, for
# each way of booting the guest image (the levers of issue 17, item 3), measured in one run, BOOTS times each,
# interleaved so that the load of a shared machine falls on every variant alike.
#
#   bench/boot/run.sh [--write-docs]
#
# Phases (bench/boot/boot.py): API + scheduling, image preparation (overlay), QEMU exec -> QMP, disks + CPUs
# started, firmware + boot loader (+ kernel decompression) up to the kernel's clock zero, kernel to /init, init
# (busybox rcS), then to the first `ember-exec true` that answers. Sources: the client's clock, Ember's log lines
# "Server ... started in" and "QEMU for ... running", the serial console log, and the guest's /proc/uptime and dmesg.
#
# Knobs (env): EMBER_BIN (default: dotnet build -c Release of this work tree), EMBER_GUEST_IMAGE (default:
# tools/guest-image/build.sh), BEFORE_IMAGE (an older guest image to compare with, optional), BOOTS=5,
# VARIANTS (default: all of boot.py's), EMBER_PORT=15080, OUT=dir.
# Everything it starts is stopped on exit; the data directory is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/bench/lib.sh"
bench_args "$@"
PY=/usr/bin/python3
export BOOTS=${BOOTS:-5}
EMBER_PORT=${EMBER_PORT:-15080}
OUT=${OUT:-$(mktemp -d /tmp/ember-boot.XXXXXX)}; mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*" >&2; }

if [[ -z ${EMBER_BIN:-} ]]; then
  say "building ember (Release)"
  build_ember "$OUT/bin" "$OUT/build.log"
  EMBER_BIN=$OUT/bin/ember
fi
image=${EMBER_GUEST_IMAGE:-$("$repo/tools/guest-image/build.sh" 2>/dev/null | tail -n 1)}
[[ -f $image ]] || { echo "no guest image (set EMBER_GUEST_IMAGE)" >&2; exit 2; }
export IMAGE_FILE=$image

ember_pid=""
cleanup() {
  if [[ -n $ember_pid ]]; then
    kill -TERM -- "-$ember_pid" 2>/dev/null || true
    timeout 60 tail --pid="$ember_pid" -f /dev/null 2>/dev/null || true
  fi
  rm -rf "$OUT/data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export DATA=$OUT/data LOG=$OUT/ember.log
admin_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
say "ember serve on 127.0.0.1:$EMBER_PORT, data in $DATA"
EMBER_ADMIN_PASSWORD=$admin_pw setsid "$EMBER_BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$EMBER_PORT" \
  --default-image "$image" > "$LOG" 2>&1 < /dev/null &
ember_pid=$!
for _ in $(seq 600); do [[ -f $DATA/admin-openrc ]] && grep -q "Registered public image ember-tiny (" "$LOG" && break; sleep 0.1; done
[[ -f $DATA/admin-openrc ]] || { echo "ember serve did not come up:" >&2; tail -n 20 "$LOG" >&2; exit 1; }

{
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs"
  echo "qemu=$(qemu-system-x86_64 --version | head -n 1)"
  echo "date=$(date -u +%FT%TZ)"
  echo "commit=$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- src tools || echo '+changes')"
  echo "image=$(basename "$image")"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.env"

(
  . "$DATA/admin-openrc"
  "$PY" "$here/boot.py" "$OUT/boot.json"
)
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.env"

table=$("$PY" "$here/boot.py" --table "$OUT")
echo "$table"
if $write_docs; then
  write_docs_section boot "Boot trace: POST /servers to the guest agent (issue 17)" "$table"
fi
echo "raw results in $OUT" >&2
