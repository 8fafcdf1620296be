#!/usr/bin/python3
"""compare_checkpoints.py A.safetensors B.safetensors [--bound X] [--exact]

Compares the parameters (the tensors whose names do not start with "optim.")
of two seqgrad checkpoints, read with numpy from the safetensors layout (8-byte
little-endian header length, JSON header, data).  Prints the largest absolute
difference relative to the largest magnitude over all parameters, and exits 1
when it is above --bound (default 1e-5), or, with --exact, when any byte
differs.  Used by tests/cli_dist.sh."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
from safetensors_np import st_load  # noqa: E402 (tests/parity/safetensors_np.py)


def read(path):
    return st_load(path)[0]


def main():
    args = sys.argv[1:]
    exact = "--exact" in args
    bound = 1e-5
    if "--bound" in args:
        bound = float(args[args.index("--bound") + 1])
    paths = [a for a in args if a.endswith(".st") or a.endswith(".safetensors")]
    a, b = read(paths[0]), read(paths[1])
    names = sorted(k for k in a if not k.startswith("optim.") and a[k].dtype.kind == "f")
    if sorted(k for k in b if not k.startswith("optim.") and b[k].dtype.kind == "f") != names:
        print("the checkpoints hold different parameters")
        return 1
    worst, scale, same = 0.0, 0.0, True
    for k in names:
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        if x.shape != y.shape:
            print(f"{k}: shapes {x.shape} and {y.shape}")
            return 1
        same = same and a[k].tobytes() == b[k].tobytes()
        worst = max(worst, float(np.max(np.abs(x - y))) if x.size else 0.0)
        scale = max(scale, float(np.max(np.abs(x))) if x.size else 0.0)
    rel = worst / scale if scale > 0 else worst
    print(f"{len(names)} parameters: max |a - b| = {worst:.3g}, relative to max |a| = {rel:.3g}; "
          f"bytes {'identical' if same else 'differ'}")
    if exact:
        return 0 if same else 1
    return 0 if rel <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
