#!/usr/bin/env bash
# Boots an ember-tiny image under QEMU TCG and checks what Ember relies on: the guest agent
# answers, guest-exec runs the seed's mkfs.ext3/mount/write/read on vdb, a disk hot-plugged
# over QMP appears as /dev/vdc, guest-shutdown powers off. Prints timings.
#
#   tools/guest-image/smoke.sh [IMAGE.qcow2]     (default: build/reuse with build.sh)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
image=${1:-$("$here/build.sh" | tail -n1)}
[[ -f $image ]] || { echo "smoke: no image: $image" >&2; exit 1; }
timeout_s=${SMOKE_TIMEOUT:-240}

tmp=$(mktemp -d)
qemu_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

truncate -s 256M "$tmp/vdb.raw"
truncate -s 128M "$tmp/hotplug.raw"

# The shape of command line a compute driver should use: every disk as -device (mixing in
# -drive if=virtio reorders them), the root disk first with bootindex=0 (vda, booted by
# SeaBIOS), the volume second (vdb, shared-volume style: share-rw, no write cache), the
# agent on a virtio-serial port named org.qemu.guest_agent.0. snapshot=on keeps the cached
# image untouched.
qemu_args=(
  -accel tcg -m 256 -smp 1 -nodefaults -display none
  -chardev "file,id=ser0,path=$tmp/serial.log" -serial chardev:ser0
  -qmp "unix:$tmp/qmp.sock,server=on,wait=off"
  -drive "file=$image,if=none,id=root,format=qcow2,snapshot=on"
  -device "virtio-blk-pci,drive=root,bootindex=0"
  -blockdev "driver=file,filename=$tmp/vdb.raw,node-name=vol0,cache.direct=on"
  -device "virtio-blk-pci,drive=vol0,share-rw=on,write-cache=off"
  -chardev "socket,path=$tmp/qga.sock,server=on,wait=off,id=qga0"
  -device virtio-serial
  -device "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"
)
echo "smoke: qemu-system-x86_64 ${qemu_args[*]}"
SMOKE_T0=$(date +%s.%N)
export SMOKE_T0
qemu-system-x86_64 "${qemu_args[@]}" &
qemu_pid=$!

# The sockets exist once QEMU has parsed its command line.
for _ in $(seq 100); do
  [[ -S $tmp/qmp.sock && -S $tmp/qga.sock ]] && break
  sleep 0.05
done

status=0
timeout "$timeout_s" python3 "$here/qga_smoke.py" \
  "$tmp/qmp.sock" "$tmp/qga.sock" "$tmp/serial.log" "$tmp/hotplug.raw" || status=$?
if ((status != 0)); then
  ((status != 124)) || echo "smoke: timed out after ${timeout_s}s" >&2
  echo "smoke: FAILED; serial console:" >&2
  sed 's/^/  | /' "$tmp/serial.log" >&2 || true
fi
exit "$status"
