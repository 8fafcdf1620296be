#!/usr/bin/env bash
# Builds seqgrad (installing missing Debian packages first) and runs
# `seqgrad demo` with any arguments given here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$root/build" -j"$(nproc 2>/dev/null || echo 2)" --target seqgrad
exec "$root/build/seqgrad" demo "$@"
