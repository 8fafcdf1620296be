#!/usr/bin/env bash
# Parity with PyTorch: seqgrad's RNN (tanh, relu), LSTM and GRU layers (1 layer,
# 2 layers, bidirectional, bidirectional 2 layers) against torch.nn.* in f64 —
# outputs, final states, the loss and every parameter, input and initial-state
# gradient within 1e-10 — and the seq2seq model (every attention score,
# reversed, peeky, input feeding, 2 encoder layers) against the same model in
# torch: the loss and every gradient within 1e-10 (tests/parity/README.md).
# Args: $1 the seqgrad binary, $2 the planted binary (unused).  The driver is
# $SG_PARITY_DRIVER (set by tests/CMakeLists.txt), else <dir of $1>/tests/sg_parity.
# Needs Debian's python3-torch and python3-numpy for /usr/bin/python3; fails
# (never skips) without them.  Ends with "N passed, M failed".
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
py=${SG_PARITY_PYTHON:-/usr/bin/python3}  # override only to test this script
driver=${SG_PARITY_DRIVER:-}
s2s_driver=${SG_PARITY_SEQ2SEQ_DRIVER:-}
if [ $# -ge 1 ]; then
  bindir=$(cd "$(dirname "$1")" 2>/dev/null && pwd)/tests
  driver=${driver:-$bindir/sg_parity}
  s2s_driver=${s2s_driver:-$bindir/sg_parity_seq2seq}
fi
for d in "$driver" "$s2s_driver"; do
  if [ -z "$d" ] || [ ! -x "$d" ]; then
    echo "cli_parity: a driver was not found ('${d}'): build the sg_parity and sg_parity_seq2seq targets"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
if [ ! -x "$py" ] || ! "$py" -c 'import torch, numpy' > /dev/null 2>&1; then
  echo "cli_parity: $py cannot import torch and numpy; install the Debian packages:"
  echo "    apt-get install python3-torch python3-numpy   (tests/deps.sh does this)"
  echo "0 passed, 1 failed"
  exit 1
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
total_pass=0; total_fail=0; status=0
for run in "parity.py $driver" "parity_seq2seq.py $s2s_driver"; do
  set -- $run
  out=$("$py" "$root/tests/parity/$1" "$2" 2>&1)
  st=$?
  echo "$out"
  last=$(printf '%s\n' "$out" | tail -n 1)
  if ! [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    echo "cli_parity: $1 stopped early (exit status $st)"
    total_fail=$((total_fail + 1)); status=1
    continue
  fi
  total_pass=$((total_pass + BASH_REMATCH[1])); total_fail=$((total_fail + BASH_REMATCH[2]))
  [ "$st" -eq 0 ] || status=1
done
echo "$total_pass passed, $total_fail failed"
exit "$status"
