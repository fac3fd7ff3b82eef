#!/usr/bin/env bash
# run.sh BUILD_DIR MODEL — installs the qlm build in BUILD_DIR into a
# temporary prefix, builds tests/consumer (a project of its own that calls
# find_package(qlm)) against it, and runs it on MODEL. Exit 77 (skipped) when
# MODEL is missing.
set -euo pipefail
build=$1 model=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ! -f $model ]]; then echo "consumer: no model $model: SKIPPED"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
# only the public headers are installed: a src/ header would not be found
test ! -e "$tmp/prefix/include/cpu" && test -f "$tmp/prefix/include/qlm/model.h"
cmake -S "$here" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log"
cmake --build "$tmp/build" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/build/consumer" "$model"
"$tmp/prefix/bin/qlm" inspect "$model" > /dev/null
