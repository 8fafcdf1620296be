#!/usr/bin/python3
"""Attention seq2seq training throughput: seqgrad against the same model in PyTorch.

Measures, in one run on this machine, training target tokens/s (forward, backward, clip 5,
Adam) of the textbook's date-format model: embedding 16, LSTM encoder and decoder of 256
units, Luong dot attention with the tanh combine layer, batch 128, reversed source; for
seqgrad (`seqgrad train seq2seq`) with 1 and 2 threads, and also as --ranks MPI ranks of one
thread (data-parallel, the same model and updates); for PyTorch with 1 and 2 ATen threads, each
with 1 and 2 OpenBLAS threads (torch does not set OpenBLAS's count, and its products run there);
the ratio best seqgrad / best PyTorch over all of them; and each process's peak resident memory.

The torch model is written the way a torch user would write it for speed: the encoder and the
teacher-forced decoder are each one nn.LSTM call over the whole padded batch (packed for the
encoder), and attention is batched over all decoder steps at once. Batches are random (seqgrad's
default, --bucket 1) on both sides, and tokens are the real target tokens, "<eos>" included.
seqgrad's figure is its epoch's tokens/s, first batch included; torch's leaves out 5 warm-up
batches.

Usage: /usr/bin/python3 tests/bench/bench_seq2seq.py [--data FILE] [--batches N]
       [--seqgrad build/seqgrad] [--threads 2] [--ranks 2] [--attention dot] [--repeat 3]
Each program runs --repeat times per thread count, seqgrad and torch alternating, and the best
run of each is reported (the machine's speed drifts by up to 30% within minutes).
Benchmarks measure; they assert nothing.  Uses Debian's python3-torch.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
E, H, B = 16, 256, 128


def read_pairs(path):
    pairs = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            cut = line.find('\t')
            cut = cut if cut >= 0 else line.find('_')
            pairs.append((line[:cut].rstrip(' '), line[cut + 1:].rstrip(' ')))
    return pairs


def torch_worker(data, batches, threads, attention):
    """Runs in a child process: trains the torch model for `batches` batches, prints JSON."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    pairs = read_pairs(data)
    chars = sorted({c for s, t in pairs for c in s + t})
    vocab = {c: i + 4 for i, c in enumerate(chars)}  # 0 pad, 1 bos, 2 eos, 3 unk
    V = len(vocab) + 4

    class Seq2seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(V, E)
            self.enc = torch.nn.LSTM(E, H, batch_first=True)
            self.dec = torch.nn.LSTM(E, H, batch_first=True)
            self.attn_W = torch.nn.Linear(H, H, bias=False)
            self.combine = torch.nn.Linear(2 * H, H, bias=False)
            self.out = torch.nn.Linear(H, V)

        def forward(self, src, src_len, dec_in):
            x = self.embed(src)
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, src_len, batch_first=True, enforce_sorted=False)
            o, state = self.enc(packed)
            keys, _ = torch.nn.utils.rnn.pad_packed_sequence(o, batch_first=True, total_length=src.shape[1])
            h, _ = self.dec(self.embed(dec_in), state)           # (B, T, H)
            q = self.attn_W(h) if attention == 'general' else h
            s = torch.bmm(q, keys.transpose(1, 2))                # (B, T, S)
            pad = torch.arange(src.shape[1])[None, :] >= src_len[:, None]
            s = s.masked_fill(pad[:, None, :], -1e4)
            ctx = torch.bmm(torch.softmax(s, -1), keys)           # (B, T, H)
            return self.out(torch.tanh(self.combine(torch.cat([h, ctx], -1))))

    model = Seq2seq()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = random.Random(1)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    batch_list = [order[k:k + B] for k in range(0, len(order), B)]  # random batches, as seqgrad's default

    def tensors(idx):
        srcs = [[vocab[c] for c in reversed(pairs[i][0])] for i in idx]
        tgts = [[vocab[c] for c in pairs[i][1]] for i in idx]
        S, T = max(map(len, srcs)), max(map(len, tgts)) + 1
        src = torch.zeros(len(idx), S, dtype=torch.long)
        dec_in = torch.zeros(len(idx), T, dtype=torch.long)
        dec_out = torch.full((len(idx), T), -100, dtype=torch.long)
        for j, (s, t) in enumerate(zip(srcs, tgts)):
            src[j, :len(s)] = torch.tensor(s)
            dec_in[j, :len(t) + 1] = torch.tensor([1] + t)
            dec_out[j, :len(t) + 1] = torch.tensor(t + [2])
        return src, torch.tensor([len(s) for s in srcs]), dec_in, dec_out

    prepared = [tensors(batch_list[k % len(batch_list)]) for k in range(batches + 5)]
    tokens, t0 = 0, None
    for k, (src, src_len, dec_in, dec_out) in enumerate(prepared):
        if k == 5:  # warm-up done
            t0 = time.perf_counter()
        logits = model(src, src_len, dec_in)
        loss = F.cross_entropy(logits.reshape(-1, V), dec_out.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if k >= 5:
            tokens += int((dec_out >= 0).sum())
    secs = time.perf_counter() - t0
    print(json.dumps({'tokens_per_s': tokens / secs, 'seconds': secs, 'loss': float(loss)}))


def measure(cmd, env=None):
    """Runs cmd under /usr/bin/time -f %M to read its peak RSS; returns (stdout, MiB)."""
    with tempfile.NamedTemporaryFile('r', suffix='.time') as tf:
        p = subprocess.run(['/usr/bin/time', '-f', '%M', '-o', tf.name] + cmd, capture_output=True, text=True,
                           env=env)
        if p.returncode:
            sys.exit(f'bench_seq2seq: {" ".join(cmd)} failed: {p.stderr.strip()[-400:]}')
        rss = int(tf.read().strip().splitlines()[-1]) / 1024
    return p.stdout, rss


def seqgrad_run(binary, data, batches, threads, attention, ranks=1):
    """One run; ranks > 1 under mpirun (data-parallel: the same model and updates, each rank its
    columns of every batch); the peak RSS is then the largest process's, one rank's."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, 'log.jsonl')
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT='1',
                   OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
        env.setdefault('OMPI_MCA_btl', 'self,vader')
        launch = ['mpirun', '--oversubscribe', '-np', str(ranks)] if ranks > 1 else []
        _, rss = measure(launch + [binary, 'train', 'seq2seq', '--data', data, '--reverse', '--attention', attention,
                          '--embed', str(E), '--hidden', str(H), '--batch', str(B), '--epochs', '1',
                          '--max-batches', str(batches), '--threads', str(threads), '--log', log,
                          '--valid-frac', '0.01', '--test-frac', '0.01'], env)
        row = json.loads(open(log).read().splitlines()[-1])
    return row['tokens_per_s'], rss


def torch_run(data, batches, threads, blas, attention):
    """threads: ATen's (torch.set_num_threads, OMP_NUM_THREADS); blas: OpenBLAS's, which torch
    does not set (its products go through Debian's OpenBLAS, by default on every core)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(blas))
    out, rss = measure([sys.executable, os.path.abspath(__file__), '--worker', data, str(batches), str(threads),
                        attention], env)
    return json.loads(out.strip().splitlines()[-1])['tokens_per_s'], rss


def main():
    if len(sys.argv) == 6 and sys.argv[1] == '--worker':
        torch_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.path.join(ROOT, '..', 'shared', 'data', 'seq2seq', 'date.txt'))
    ap.add_argument('--batches', type=int, default=60)
    ap.add_argument('--seqgrad', default=os.path.join(ROOT, 'build', 'seqgrad'))
    ap.add_argument('--threads', type=int, default=2, help='the most threads tried')
    ap.add_argument('--attention', default='dot', choices=['dot', 'general'])
    ap.add_argument('--ranks', type=int, default=2,
                    help='also run seqgrad as this many MPI ranks x 1 thread (0: not; needs mpirun)')
    ap.add_argument('--repeat', type=int, default=3, help='runs of each program per thread count, alternating; '
                    'the best is reported')
    a = ap.parse_args()
    rows = []
    for t in range(1, a.threads + 1):
        sg = sg_rss = 0
        tr = {b: (0, 0) for b in range(1, a.threads + 1)}  # torch with t ATen threads and b OpenBLAS threads
        for _ in range(a.repeat):  # alternating, so a drift of the machine's speed hits both
            s_tok, s_rss = seqgrad_run(a.seqgrad, a.data, a.batches, t, a.attention)
            sg, sg_rss = max(sg, s_tok), max(sg_rss, s_rss)
            for b in tr:
                t_tok, t_rss = torch_run(a.data, a.batches, t, b, a.attention)
                tr[b] = (max(tr[b][0], t_tok), max(tr[b][1], t_rss))
        for b in sorted(tr):
            rows.append((f'{t}' if b == 1 else '', sg if b == 1 else 0, sg_rss, f'{t} ATen x {b} BLAS', *tr[b]))
    if a.ranks > 1 and shutil.which('mpirun'):
        runs = [seqgrad_run(a.seqgrad, a.data, a.batches, 1, a.attention, a.ranks) for _ in range(a.repeat)]
        rows.append((f'{a.ranks} ranks x 1 (seqgrad only)', max(r[0] for r in runs), max(r[1] for r in runs), '', 0,
                     0))
    print(f'attention seq2seq ({a.attention}), E {E}, H {H}, batch {B}, reversed source, {a.batches} batches '
          f'of {os.path.basename(a.data)}; target tokens/s of training (higher is better), the best of '
          f'{a.repeat} alternating runs each')
    print('| seqgrad threads | seqgrad tok/s | seqgrad peak RSS | torch threads | torch tok/s | torch peak RSS |')
    print('| --- | --- | --- | --- | --- | --- |')
    for t, sg, sg_rss, cfg, tr, tr_rss in rows:
        sg_cells = f'{sg:.0f} | {sg_rss:.0f} MiB{" per rank" if not cfg else ""}' if sg else ' | '
        tr_cells = f'{cfg} | {tr:.0f} | {tr_rss:.0f} MiB' if tr else ' | | '
        print(f'| {t} | {sg_cells} | {tr_cells} |')
    best_sg, best_tr = max(r[1] for r in rows), max(r[4] for r in rows if r[4])
    print(f'best against best: seqgrad {best_sg:.0f} tok/s, torch {best_tr:.0f} tok/s, ratio {best_sg / best_tr:.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
