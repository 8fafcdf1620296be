#!/usr/bin/python3
"""PTB training throughput: seqgrad against the same model in PyTorch.

Measures, in one run on this machine: tokens/s of training (forward, backward,
clip 5, SGD) for a Zaremba et al. configuration (--config small: 2-layer LSTM,
200 units, bptt 20, batch 20, no dropout; --config medium: 650 units, bptt 35,
dropout 0.5 on the embedding, between the layers and before the output layer;
vocabulary 10k), for seqgrad with 1 and with 2 threads and for PyTorch in each of its four
ways to use the cores: torch.set_num_threads 1 or 2 (ATen's own kernels) times 1 or 2 OpenBLAS
threads (OPENBLAS_NUM_THREADS; PyTorch does not set it, and Debian's torch runs its products
through OpenBLAS, which by default takes every core); the ratio best seqgrad / best PyTorch
over all of them; FLOPs per token and the
fraction of this machine's sgemm peak (measured here with numpy/OpenBLAS) that
training reaches; peak resident memory of each process.

Usage: /usr/bin/python3 tests/bench/bench_ptb.py [--config small|medium] [--data DIR]
       [--windows N] [--seqgrad build/seqgrad] [--threads 2] [--repeat 2]
Every configuration runs once per round, --repeat rounds, and the best run of each is reported
(the machine's speed drifts by up to 30% within minutes).
Benchmarks measure; they assert nothing.  Uses Debian's python3-torch.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIGS = {"small": (200, 20, 0.0), "medium": (650, 35, 0.5)}  # hidden, bptt, dropout; batch 20


def torch_worker(data, windows, threads, config):
    """Runs in a child process: trains the PyTorch model, prints JSON."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    words = {}
    ids = []
    with open(os.path.join(data, "ptb.train.txt")) as f:
        for line in f:
            for w in line.split() + ["<eos>"]:
                ids.append(words.setdefault(w, len(words)))
    (H, T, drop_p), B, V = CONFIGS[config], 20, len(words)

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(V, H)
            self.rnn = torch.nn.LSTM(H, H, 2, dropout=drop_p)
            self.drop = torch.nn.Dropout(drop_p)
            self.out = torch.nn.Linear(H, V)
            for p in self.parameters():
                torch.nn.init.uniform_(p, -0.1, 0.1)

        def forward(self, x, state):
            h, state = self.rnn(self.drop(self.embed(x)), state)
            return self.out(self.drop(h).reshape(-1, H)), state

    model = LM()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    L = len(ids) // B
    data_t = torch.tensor(ids[: L * B], dtype=torch.long).view(B, L).t().contiguous()  # (L, B)
    state = None
    tokens, t_start = 0, None
    for w in range(windows + 5):
        if w == 5:  # warm-up done
            t_start, tokens = time.perf_counter(), 0
        x = data_t[w * T:(w + 1) * T]
        y = data_t[w * T + 1:(w + 1) * T + 1]
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = torch.nn.functional.cross_entropy(logits, y.reshape(-1), reduction="sum") / B
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        tokens += T * B
    secs = time.perf_counter() - t_start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"tokens_per_s": tokens / secs, "peak_rss_mb": rss, "threads": threads}))


def sgemm_peak(threads):
    """GFLOP/s of a large sgemm with OpenBLAS through numpy (child process)."""
    code = ("import numpy as np, time\n"
            "a=np.random.rand(2048,2048).astype(np.float32); b=np.random.rand(2048,2048).astype(np.float32)\n"
            "a@b\nt=time.perf_counter(); n=5\nfor _ in range(n): a@b\n"
            "print(2*2048**3*n/(time.perf_counter()-t)/1e9)\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    return float(subprocess.check_output(["/usr/bin/python3", "-c", code], env=env).decode())


def run_seqgrad(exe, data, windows, threads, config):
    """tokens/s and peak RSS (MB, by /usr/bin/time: this process's children's maximum would also
    count the torch runs of earlier rounds) of one seqgrad run."""
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, exe, "train", "lm", "--data", data,
                              "--epochs", "1", "--max-windows", str(windows), "--threads", str(threads),
                              "--hidden", str(CONFIGS[config][0]), "--bptt", str(CONFIGS[config][1]),
                              "--dropout", str(CONFIGS[config][2])], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("seqgrad failed:\n" + out.stdout + out.stderr)
        rss = int(tf.read().strip().splitlines()[-1]) / 1024.0
    m = re.search(r"epoch 1: .* ([0-9.]+) tok/s", out.stdout)
    return float(m.group(1)), rss, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("SG_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))
                    + "/ptb")
    ap.add_argument("--windows", type=int, default=200)
    ap.add_argument("--seqgrad", default=os.path.join(ROOT, "build", "seqgrad"))
    ap.add_argument("--threads", type=int, default=2, help="threads for the sgemm peak measurement")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="small")
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds over all the configurations; the best of each is reported")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        torch_worker(a.data, int(a.worker[0]), int(a.worker[1]), a.config)
        return
    (H, T, _), B, V = CONFIGS[a.config], 20, 10000
    # FLOPs per token (multiply-add = 2), forward + backward (~3x forward):
    lstm = 2 * (2 * (H + H) * 4 * H)        # two layers, [x, h] x (2H, 4H)
    proj = 2 * H * V
    flops_token = 3 * (lstm + proj)
    res = {}

    def keep(key, row):  # the best of the repeats, and the largest peak RSS
        if key not in res or row["tokens_per_s"] > res[key]["tokens_per_s"]:
            rss = max(row["peak_rss_mb"], res[key]["peak_rss_mb"]) if key in res else row["peak_rss_mb"]
            res[key] = dict(row, peak_rss_mb=rss)

    torch_keys = ["torch_%d_blas_%d" % (th, blas) for th in (1, 2) for blas in (1, 2)]
    for _ in range(a.repeat):  # every configuration once per round, so a drift of the machine hits all
        for th in (1, 2):
            tps, rss, _ = run_seqgrad(a.seqgrad, a.data, a.windows, th, a.config)
            keep("seqgrad_%d" % th, {"tokens_per_s": tps, "peak_rss_mb": rss, "threads": th})
        for th in (1, 2):  # ATen threads
            for blas in (1, 2):  # OpenBLAS threads
                env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas))
                out = subprocess.check_output(["/usr/bin/python3", __file__, "--data", a.data, "--config",
                                               a.config, "--worker", str(a.windows), str(th)], env=env).decode()
                keep("torch_%d_blas_%d" % (th, blas), dict(json.loads(out.strip().splitlines()[-1]),
                                                           blas_threads=blas))
    sg_tps = max(res["seqgrad_1"]["tokens_per_s"], res["seqgrad_2"]["tokens_per_s"])
    best = max(res[k]["tokens_per_s"] for k in torch_keys)
    peak = sgemm_peak(a.threads)
    print("PTB %s (2x%d LSTM, bptt %d, batch %d, dropout %g, V 10k), %d windows after 5 warm-up, "
          "best of %d rounds" % (a.config, H, T, B, CONFIGS[a.config][2], a.windows, a.repeat))
    for k in ["seqgrad_1", "seqgrad_2"] + torch_keys:
        r = res[k]
        how = ("%d thread(s)" % r["threads"] if k.startswith("seqgrad") else
               "%d ATen x %d BLAS" % (r["threads"], r["blas_threads"]))
        print("  %-16s %-16s %8.0f tokens/s   peak RSS %6.0f MB   %5.1f GFLOP/s" % (
            k, how, r["tokens_per_s"], r["peak_rss_mb"], r["tokens_per_s"] * flops_token / 1e9))
    print("  best seqgrad / best PyTorch: %.2fx" % (sg_tps / best))
    print("  FLOPs per token (fwd+bwd): %.1f M; sgemm peak here (%d threads): %.1f GFLOP/s; "
          "seqgrad reaches %.0f%% of it" % (flops_token / 1e6, a.threads, peak, 100 * sg_tps * flops_token / 1e9 / peak))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
