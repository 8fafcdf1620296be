#!/usr/bin/env bash
# Installs the Debian 12 packages seqgrad needs, only those missing.
# Sourced or run by tests/run.sh and frontends/demo.sh; needs root to install.
set -euo pipefail
SG_PACKAGES=(gcc make cmake pkg-config
             libopenblas-dev libffi-dev libcmocka-dev libgraphviz-dev graphviz libplplot-dev plplot-driver-cairo
             libcjson-dev clang clang-format libclang-rt-14-dev python3-torch python3-numpy python3-gensim
             help2man doxygen libopenmpi-dev openmpi-bin)
missing=()
for p in "${SG_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "seqgrad: installing missing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "seqgrad: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
