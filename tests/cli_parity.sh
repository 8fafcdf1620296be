#!/usr/bin/env bash
# Parity with PyTorch: seqgrad's RNN (tanh, relu), LSTM and GRU layers (1 layer,
# 2 layers, bidirectional, bidirectional 2 layers) against torch.nn.* in f64 —
# outputs, final states, the loss and every parameter, input and initial-state
# gradient within 1e-10 (tests/parity/README.md).
# Args: $1 the seqgrad binary, $2 the planted binary (unused).  The driver is
# $SG_PARITY_DRIVER (set by tests/CMakeLists.txt), else <dir of $1>/tests/sg_parity.
# Needs Debian's python3-torch and python3-numpy for /usr/bin/python3; fails
# (never skips) without them.  Ends with "N passed, M failed".
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
py=${SG_PARITY_PYTHON:-/usr/bin/python3}  # override only to test this script
driver=${SG_PARITY_DRIVER:-}
if [ -z "$driver" ] && [ $# -ge 1 ]; then
  driver=$(cd "$(dirname "$1")" 2>/dev/null && pwd)/tests/sg_parity
fi
if [ -z "$driver" ] || [ ! -x "$driver" ]; then
  echo "cli_parity: the driver sg_parity was not found ('${driver}'): build the sg_parity target"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -x "$py" ] || ! "$py" -c 'import torch, numpy' > /dev/null 2>&1; then
  echo "cli_parity: $py cannot import torch and numpy; install the Debian packages:"
  echo "    apt-get install python3-torch python3-numpy   (tests/deps.sh does this)"
  echo "0 passed, 1 failed"
  exit 1
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
out=$("$py" "$root/tests/parity/parity.py" "$driver" 2>&1)
status=$?
echo "$out"
last=$(printf '%s\n' "$out" | tail -n 1)
if ! [[ "$last" =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
  echo "cli_parity: parity.py stopped early (exit status $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
exit "$status"
