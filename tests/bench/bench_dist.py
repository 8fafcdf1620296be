#!/usr/bin/python3
"""Data-parallel PTB training throughput: ranks against threads, overlap on/off.

Measures, in one run on this machine, tokens/s of `seqgrad train lm` (PTB
small: 2-layer LSTM, 200 units, bptt 20, global batch 20) for
  1 rank x 1 thread, 1 rank x 2 threads,
  2 ranks x 1 thread (mpirun, 10 rows each) with the bucketed overlap on,
  and 2 ranks x 1 thread with --no-overlap (one allreduce after backward);
each configuration --repeat times, alternating, best of each reported, with
the ratios against 1 rank x 2 threads.  Also the time one step spends in
the gradient allreduce, measured as the difference in step time between a
2-rank run and a run of one rank on the same rows (10 rows alone).

Usage: /usr/bin/python3 tests/bench/bench_dist.py [--data DIR] [--windows N]
       [--repeat R] [--seqgrad build/seqgrad] [--model small|medium]
Benchmarks measure; they assert nothing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(seqgrad, data, windows, ranks, threads, batch, model, extra=()):
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        cmd = [seqgrad, "train", "lm", "--data", data, "--epochs", "1", "--max-windows", str(windows),
               "--threads", str(threads), "--batch", str(batch), "--log", log] + model + list(extra)
        if ranks > 1:
            cmd = ["mpirun", "--oversubscribe", "-np", str(ranks)] + cmd
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMPI_MCA_btl="self,vader")
        if os.getuid() == 0:
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
        with open(log) as f:
            row = json.loads(f.readline())
        return row["tokens_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "ptb"))
    ap.add_argument("--windows", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seqgrad", default=os.path.join(ROOT, "build", "seqgrad"))
    ap.add_argument("--model", choices=["small", "medium"], default="small")
    a = ap.parse_args()
    model = [] if a.model == "small" else ["--hidden", "650", "--bptt", "35"]
    configs = [
        ("1 rank x 1 thread", 1, 1, 20, ()),
        ("1 rank x 2 threads", 1, 2, 20, ()),
        ("2 ranks x 1 thread, overlap", 2, 1, 20, ()),
        ("2 ranks x 1 thread, no overlap", 2, 1, 20, ("--no-overlap",)),
        ("1 rank x 1 thread, 10 rows (one rank's share)", 1, 1, 10, ()),
    ]
    best = {}
    for r in range(a.repeat):
        for name, ranks, threads, batch, extra in configs:
            tps = run(a.seqgrad, a.data, a.windows, ranks, threads, batch, model, extra)
            best[name] = max(best.get(name, 0), tps)
            print(f"  run {r + 1}: {name}: {tps:.0f} tok/s", flush=True)
    ref = best["1 rank x 2 threads"]
    print(f"\nPTB {a.model}, {a.windows} windows, best of {a.repeat} (tokens/s of the global batch):")
    print(f"| configuration | tokens/s | vs 1 rank x 2 threads |\n| --- | ---: | ---: |")
    for name, *_ in configs:
        print(f"| {name} | {best[name]:.0f} | {best[name] / ref:.2f} |")
    bptt = 20 if a.model == "small" else 35
    # A step of 2 ranks moves 20 x bptt tokens; one rank's share alone moves 10 x bptt.
    t2 = 20 * bptt / best["2 ranks x 1 thread, overlap"]
    t2n = 20 * bptt / best["2 ranks x 1 thread, no overlap"]
    t1 = 10 * bptt / best["1 rank x 1 thread, 10 rows (one rank's share)"]
    print(f"\nstep time: one rank's share alone {t1 * 1e3:.1f} ms; 2 ranks {t2 * 1e3:.1f} ms with overlap, "
          f"{t2n * 1e3:.1f} ms without: data-parallel costs {(t2 - t1) * 1e3:.1f} ms / {(t2n - t1) * 1e3:.1f} ms "
          f"a step")


if __name__ == "__main__":
    main()
