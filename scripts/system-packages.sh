#!/usr/bin/env bash
# The Debian packages ReproReview needs beyond Python, in one place for the quick start (scripts/quickstart.sh)
# and CI (.ci/run): bubblewrap sandboxes the artifact runs, git snapshots repositories, chromium drives the
# browser tests, qemu-system-arm and the arm-none-eabi toolchain run the microcontroller rig's firmware.
#
#   scripts/system-packages.sh [--demo|--ci] [--check]
#
# --demo (default) lists what serving the demo needs (runs included); --ci adds the test-only packages.
# As root it installs what is missing with apt-get; otherwise it prints the exact `sudo apt-get install …`
# line to run and exits 1 (0 when nothing is missing). --check only prints, never installs.
set -euo pipefail

profile=demo
check=0
for arg in "$@"; do
  case "$arg" in
    --demo) profile=demo ;;
    --ci) profile=ci ;;
    --check) check=1 ;;
    *) echo "usage: $0 [--demo|--ci] [--check]" >&2; exit 2 ;;
  esac
done

need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v git >/dev/null || need+=(git)
if [ "$profile" = ci ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
  command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
line="apt-get install -y --no-install-recommends ${need[*]}"
if [ "$check" = 1 ] || [ "$(id -u)" != 0 ]; then
  echo "Missing system packages (${need[*]}). Run, as root:" >&2
  echo "  sudo apt-get update && sudo $line" >&2
  exit 1
fi
echo "== $line =="
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
