#!/usr/bin/env bash
# Builds ember-tiny: a small bootable qcow2 guest image made from Debian packages only.
#
#   tools/guest-image/build.sh [OUT.qcow2]
#
# The image is cached by content in ${EMBER_CACHE_DIR:-$HOME/.cache/ember}/guest-image/;
# when it is already there this is a quick no-op. The last line on stdout is the image path,
# everything else goes to stderr. See docs/guest-image.md for the why of each piece.
#
# Layout: MBR (syslinux mbr.bin) + one FAT partition holding syslinux, the Debian cloud kernel
# and an initramfs that is the whole root filesystem (busybox, e2fsprogs, qemu-guest-agent, dropbear).
# The kernel and the initramfs are also left beside the image as NAME.kernel and NAME.initrd (direct kernel boot).
# Packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x`: nothing is
# installed on the host and nothing is mounted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out_copy=${1:-}
cache=${EMBER_CACHE_DIR:-$HOME/.cache/ember}/guest-image
debs=$cache/debs

log() { echo "guest-image: $*" >&2; }
die() { log "error: $*"; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# Packages unpacked into the image. Only the files the image needs are taken from them.
kernel_meta=linux-image-cloud-amd64
packages=(
  busybox-static                                           # shell and userland, static
  e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1      # mkfs.ext3 and its libraries
  qemu-guest-agent libglib2.0-0 libpcre2-8-0 libnuma1 libudev1 liburing2  # qemu-ga + libraries
  dropbear-bin libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g  # SSH server (keys only) + libraries
  libc6                                                    # the loader and libc for both
)
# Kernel modules loaded at boot (with their dependencies). ext4 (which serves ext3), jbd2,
# crc16 and crc32c are built into Debian's cloud kernel; the virtio drivers are modules.
# button + evdev let busybox acpid see the ACPI power button (graceful system_powerdown).
# virtio-rng right after virtio_pci: the host's entropy then seeds the kernel RNG (rcS).
modules=(virtio_pci virtio-rng virtio_blk virtio_console virtio_net button evdev)
# Loaded by ember-firstboot, in the background, to look for a config drive (an ISO 9660 CD-ROM on the IDE bus,
# as Nova attaches it): not at boot, so a guest without one does not wait for the IDE probe.
cdrom_modules=(ata_piix sr_mod isofs)
disk_mib=64      # virtual disk size; the qcow2 file only holds what is written
part_start=2048  # first sector of the FAT partition (1 MiB, the usual alignment)

"$repo/tools/install-deps.sh" >&2
mkdir -p "$debs"

# Resolve the exact package versions (file names carry them) without downloading anything.
resolve() {
  local kernel_pkg
  kernel_pkg=$(apt-cache depends "$kernel_meta" 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  [[ -n $kernel_pkg ]] || return 1
  apt-get download --print-uris "$kernel_pkg" "${packages[@]}" 2>/dev/null
}
if ! uris=$(resolve) || [[ -z $uris ]]; then
  log "package lists missing or stale: apt-get update"
  as_root apt-get update -qq >&2
  uris=$(resolve) || die "cannot resolve packages: ${packages[*]} $kernel_meta"
fi
# Lines: 'URI' FILE SIZE SHA256:...
mapfile -t deb_files < <(awk '{ print $2 }' <<<"$uris" | LC_ALL=C sort)

# Content hash: this script, the guest files (with modes) and the resolved package files.
hash=$(
  {
    cat "$here/build.sh"
    (cd "$here/rootfs" && find . -type f -printf '%m %p\n' | LC_ALL=C sort &&
      find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    awk '{ print $2, $4 }' <<<"$uris" | LC_ALL=C sort
  } | sha256sum | cut -c1-16
)
image=$cache/ember-tiny-$hash.qcow2

finish() {
  if [[ -n $out_copy ]]; then
    cp -f "$image" "$out_copy"
    for ext in kernel initrd; do cp -f "${image%.qcow2}.$ext" "${out_copy%.qcow2}.$ext"; done
  fi
  echo "$image"
}

if [[ -f $image ]]; then
  finish
  exit 0
fi

# Two builds at once (parallel tests) must not race: one builds, the other waits and reuses.
exec 9>"$cache/.lock"
flock 9
if [[ -f $image ]]; then
  finish
  exit 0
fi

log "building $image"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- fetch and unpack ------------------------------------------------------------------
missing=()
for f in "${deb_files[@]}"; do
  [[ -f $debs/$f ]] || missing+=("${f%%_*}")
done
if ((${#missing[@]})); then
  log "downloading ${missing[*]}"
  apt_opts=()
  # As root apt drops to the _apt user, which cannot write into a private cache dir.
  [[ $(id -u) -ne 0 ]] || apt_opts=(-o APT::Sandbox::User=root)
  (cd "$debs" && apt-get download -q "${apt_opts[@]}" "${missing[@]}" >&2)
fi
pkg=$work/pkg
mkdir -p "$pkg"
for f in "${deb_files[@]}"; do
  [[ -f $debs/$f ]] || die "download failed: $f"
  dpkg-deb -x "$debs/$f" "$pkg"
done
kver=$(basename "$(find "$pkg/lib/modules" -mindepth 1 -maxdepth 1 -type d)")
vmlinuz=$pkg/boot/vmlinuz-$kver
[[ -f $vmlinuz ]] || die "no kernel in the kernel package"

# --- root filesystem (the initramfs) ---------------------------------------------------
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/x86_64-linux-gnu,lib64,etc,proc,sys,dev,tmp,run,root,mnt,var/log}
ln -s ../run "$root/var/run"
cp -a "$here/rootfs/." "$root/"

# The real tools first: busybox also has a mkfs.ext2 applet that must not shadow mke2fs.
e2tools=(mke2fs mkfs.ext2 mkfs.ext3 mkfs.ext4 e2fsck fsck.ext2 fsck.ext3 fsck.ext4 tune2fs dumpe2fs)
for t in "${e2tools[@]}"; do cp -a "$pkg/sbin/$t" "$root/sbin/"; done
cp "$pkg/etc/mke2fs.conf" "$root/etc/"
cp "$pkg/usr/sbin/qemu-ga" "$root/usr/sbin/"
cp "$pkg/usr/sbin/dropbear" "$root/usr/sbin/"
cp "$pkg/usr/bin/dropbearkey" "$root/usr/bin/"
cp "$pkg/bin/busybox" "$root/bin/"
while read -r applet; do
  [[ -e $root/$applet || -L $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done < <("$pkg/bin/busybox" --list-full)
# The kernel runs /init from the initramfs; as a busybox link it is busybox init (/etc/inittab).
ln -sf bin/busybox "$root/init"

# Shared libraries of the dynamic binaries, found by the packages' own loader so that
# nothing from the host slips in. No library may be missing.
gnu=lib/x86_64-linux-gnu
ldso=$pkg/$gnu/ld-linux-x86-64.so.2
cp -L "$ldso" "$root/$gnu/"
ln -s "/$gnu/ld-linux-x86-64.so.2" "$root/lib64/ld-linux-x86-64.so.2"
for bin in sbin/mke2fs sbin/e2fsck sbin/tune2fs sbin/dumpe2fs usr/sbin/qemu-ga usr/sbin/dropbear usr/bin/dropbearkey; do
  "$ldso" --library-path "$pkg/$gnu:$pkg/usr/$gnu" --list "$root/$bin"
done | awk '$2 == "=>" && $1 !~ /^\// { print $1, $3 }' | LC_ALL=C sort -u |
  while read -r soname path; do
    [[ $path == "$pkg"/* ]] || die "library $soname not found in the packages (got: $path)"
    cp -L "$path" "$root/$gnu/$soname"
  done

# Kernel modules in load order: a depth-first walk of modules.dep puts every dependency
# before its users (virtio_ring, virtio, virtio_pci_*_dev, virtio_pci, then the drivers).
moddir=$pkg/lib/modules/$kver
depmod -b "$pkg" "$kver"
declare -A moddeps=() seen=()
while IFS=: read -r mod deps; do moddeps[$mod]=$deps; done <"$moddir/modules.dep"
order=()
visit() {
  local mod=$1 dep
  [[ -z ${seen[$mod]:-} ]] || return 0
  seen[$mod]=1
  for dep in ${moddeps[$mod]}; do visit "$dep"; done
  order+=("$mod")
}
# Writes the load order of the named modules (those not already in an earlier list) to $root/etc/$1.
module_list() {
  local file=$1 name path
  shift
  order=()
  for name in "$@"; do
    path=$(grep -oE "^[^:]*/${name}\.ko" "$moddir/modules.dep" | head -n1) ||
      die "kernel module $name not found"
    visit "$path"
  done
  for mod in "${order[@]}"; do
    install -D -m 0644 "$moddir/$mod" "$root/lib/modules/$kver/$mod"
  done
  printf '%s\n' "${order[@]}" >"$root/etc/$file"
  log "$file: ${order[*]##*/}"
}
module_list modules.order "${modules[@]}"
module_list modules.cdrom "${cdrom_modules[@]}"

initrd=$work/initrd.img
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
  cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$initrd"

# --- the kernel for direct boot -------------------------------------------------------
# The uncompressed ELF inside the bzImage: its PVH entry note lets QEMU start it as it is, so the guest does not
# decompress 50 MB under an emulated CPU (about a second under TCG, bench/boot). Where the payload lies is in the boot
# header: setup_sects (0x1f1), payload_offset (0x248) and payload_length (0x24c). Without a PVH note, or with a
# compression this does not know, the bzImage itself is the kernel.
kernel_for_direct_boot() { # BZIMAGE OUT
  local setup offset length start magic decompress=()
  setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$1" | tr -d ' ')
  offset=$(od -An -tu4 -j $((0x248)) -N4 "$1" | tr -d ' ')
  length=$(od -An -tu4 -j $((0x24c)) -N4 "$1" | tr -d ' ')
  start=$(((setup + 1) * 512 + offset))
  magic=$(od -An -tx1 -j "$start" -N4 "$1" | tr -d ' ')
  case $magic in
    1f8b*) decompress=(gzip -dc) ;;
    fd377a58) decompress=(xz -dc) ;;
    28b52ffd) decompress=(zstd -dc) ;;
    02214c18) decompress=(lz4 -dc) ;; # legacy frame; the size the kernel build appends ends it
  esac
  if ((${#decompress[@]})) && command -v "${decompress[0]}" >/dev/null; then
    tail -c +$((start + 1)) "$1" | head -c "$length" | "${decompress[@]}" >"$2.elf" 2>/dev/null || true
    if [[ $(od -An -tx1 -N4 "$2.elf" | tr -d ' ') == 7f454c46 ]] &&
      readelf -n "$2.elf" 2>/dev/null | grep -q 'Xen .*(0x00000012)'; then
      mv "$2.elf" "$2"
      log "direct-boot kernel: uncompressed ELF with a PVH entry, $(du -k "$2" | cut -f1) KiB"
      return
    fi
  fi
  rm -f "$2.elf"
  cp "$1" "$2"
  log "direct-boot kernel: the bzImage (no PVH ELF found in it, compression ${magic:-?})"
}

# --- disk: MBR + FAT partition, booted by syslinux -------------------------------------
cat >"$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT ember
PROMPT 0
TIMEOUT 0
LABEL ember
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND console=ttyS0,115200 panic=5 quiet
EOF

disk=$work/disk.raw
truncate -s "${disk_mib}M" "$disk"
printf 'label: dos\nstart=%d, type=c, bootable\n' "$part_start" | sfdisk --quiet "$disk" >&2
part_sectors=$((disk_mib * 2048 - part_start))
mkfs.fat -n EMBERTINY -h "$part_start" --offset "$part_start" "$disk" $((part_sectors / 2)) >/dev/null
offset=$((part_start * 512))
export MTOOLS_SKIP_CHECK=1
mcopy -i "$disk@@$offset" "$vmlinuz" ::/vmlinuz
mcopy -i "$disk@@$offset" "$initrd" ::/initrd.img
mcopy -i "$disk@@$offset" "$work/syslinux.cfg" ::/syslinux.cfg
# syslinux writes its boot sector and ldlinux.sys through mtools: no mount needed.
syslinux --offset "$offset" --install "$disk"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none

qemu-img convert -f raw -O qcow2 "$disk" "$work/image.qcow2"
# The kernel and initramfs also beside the image, for direct kernel boot (Ember registers them as the image's
# kernel_id / ramdisk_id). The qcow2 goes last: its presence means the build is complete.
kernel_for_direct_boot "$vmlinuz" "${image%.qcow2}.kernel"
cp "$initrd" "${image%.qcow2}.initrd"
mv "$work/image.qcow2" "$image"
log "kernel $kver, initramfs $(du -k "$initrd" | cut -f1) KiB, image $(du -k "$image" | cut -f1) KiB"
finish
