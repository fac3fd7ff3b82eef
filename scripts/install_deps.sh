#!/usr/bin/env bash
# install_deps.sh — Debian packages the build and tests need. Installs only
# what is missing (so a prepared machine pays nothing), as root or via sudo.
set -euo pipefail
PKGS=(cmake ninja-build g++ clang libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev
      libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libsimde-dev
      libzmq3-dev cppzmq-dev libmsgpack-cxx-dev python3 python3-venv python3-pip)
# The AArch64 cross toolchain and qemu-user run the NEON path's tests on x86 hosts.
[ "$(uname -m)" = x86_64 ] && PKGS+=(g++-aarch64-linux-gnu qemu-user)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3 may come from elsewhere (pyenv): venv support is what matters
if command -v python3 >/dev/null && python3 -c "import venv, ensurepip" 2>/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do case "$p" in python3|python3-venv|python3-pip) ;; *) filtered+=("$p");; esac; done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all Debian packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
