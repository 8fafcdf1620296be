#!/usr/bin/python3
"""One training epoch of the textbook's numpy seq2seq models against seqgrad, on this machine.

Deep Learning from Scratch 2 (oreilly-japan/deep-learning-from-scratch-2, not part of seqgrad:
pass a checkout with --textbook) trains its attention seq2seq on the date set (ch08/train.py:
E 16, H 256, batch 128, Adam, clip 5, reversed input) and its reversed + peeky seq2seq on the
addition set (ch07, H 128). This script times one epoch of training (Trainer.fit, nothing else)
for each model and `seqgrad train seq2seq` with the same sizes for one epoch (its log's
seconds), at each of --threads thread counts (numpy through OPENBLAS_NUM_THREADS), and seqgrad
also as --ranks MPI ranks of one thread each (data-parallel: the same model and updates). It
prints training pairs/s of every run and the ratio of the best seqgrad run to the best textbook
run. seqgrad trains on its 80% split (40,000 pairs), the textbook on its 90% (45,000), so the
rates are per pair. Benchmarks measure; they assert nothing.

Usage: /usr/bin/python3 tests/bench/bench_textbook.py --textbook DIR [--threads 1 2] [--ranks 2]
       [--models dates addition] [--seqgrad build/seqgrad] [--data-dir ../shared/data/seq2seq]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

MODELS = {  # name: data file, hidden, the textbook's model, seqgrad's options
    'dates, dot attention, H 256': ('date.txt', 256, 'attention', ['--reverse', '--attention', 'dot']),
    'addition, reversed + peeky, H 128': ('addition.txt', 128, 'peeky', ['--reverse', '--peeky']),
}


def textbook_worker(book, data_file, hidden, kind):
    """Runs in a child process (its own OPENBLAS_NUM_THREADS): one epoch of Trainer.fit."""
    import types
    for mod in ('matplotlib', 'matplotlib.pyplot'):  # the trainer imports it for its plots only
        sys.modules[mod] = types.ModuleType(mod)
    sys.modules['matplotlib'].pyplot = sys.modules['matplotlib.pyplot']
    sys.path[:0] = [book, os.path.join(book, 'ch07'), os.path.join(book, 'ch08')]
    os.chdir(os.path.join(book, 'ch08'))
    import numpy as np
    from dataset import sequence
    from common.optimizer import Adam
    from common.trainer import Trainer
    np.random.seed(1)
    (x_train, t_train), _ = sequence.load_data(data_file)
    char_to_id, _ = sequence.get_vocab()
    x_train = x_train[:, ::-1]
    if kind == 'attention':
        from attention_seq2seq import AttentionSeq2seq as Model
    else:
        from peeky_seq2seq import PeekySeq2seq as Model
    model = Model(len(char_to_id), 16, hidden)
    trainer = Trainer(model, Adam())
    start = time.perf_counter()
    trainer.fit(x_train, t_train, max_epoch=1, batch_size=128, max_grad=5.0, eval_interval=10 ** 9)
    print(json.dumps({'pairs': len(x_train), 'seconds': time.perf_counter() - start}))


def run_textbook(book, data_file, hidden, kind, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    p = subprocess.run([sys.executable, os.path.abspath(__file__), '--worker', os.path.abspath(book), data_file,
                        str(hidden), kind], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f'bench_textbook: the textbook run failed: {p.stderr.strip()[-400:]}')
    row = json.loads(p.stdout.strip().splitlines()[-1])
    return row['pairs'], row['seconds']


def run_seqgrad(seqgrad, data, hidden, opts, ranks, threads):
    """One epoch of `seqgrad train seq2seq`, alone (ranks 1) or under mpirun (data-parallel, each rank
    its columns of every batch of 128: the same model and updates as one rank)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    env.setdefault('OMPI_MCA_btl', 'self,vader')
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, 'log.jsonl')
        cmd = [seqgrad, 'train', 'seq2seq', '--data', data, '--embed', '16', '--hidden', str(hidden), '--batch', '128',
               '--epochs', '1', '--threads', str(threads), '--log', log] + opts
        if ranks > 1:
            cmd = ['mpirun', '--oversubscribe', '-np', str(ranks)] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode != 0:
            sys.exit(f'bench_textbook: {" ".join(cmd)} failed: {p.stderr.strip()[-400:]}')
        return 40000, json.loads(open(log).read().splitlines()[-1])['seconds']  # the 80/10/10 split of 50,000


def main():
    if len(sys.argv) == 6 and sys.argv[1] == '--worker':
        textbook_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--textbook', required=True, help='a checkout of deep-learning-from-scratch-2')
    ap.add_argument('--threads', type=int, nargs='+', default=[1, 2], help='thread counts to run each at')
    ap.add_argument('--ranks', type=int, default=2,
                    help='also run seqgrad as this many MPI ranks x 1 thread (0: not; needs mpirun)')
    ap.add_argument('--seqgrad', default=os.path.join(ROOT, 'build', 'seqgrad'))
    ap.add_argument('--data-dir', default=os.path.join(ROOT, '..', 'shared', 'data', 'seq2seq'))
    ap.add_argument('--models', nargs='+', choices=['dates', 'addition'], default=['dates', 'addition'])
    a = ap.parse_args()
    use_mpi = a.ranks > 1 and shutil.which('mpirun') is not None
    if a.ranks > 1 and not use_mpi:
        print('(no mpirun here: the ranks row is left out)')
    print('one epoch of training each; pairs/s (higher is better); best against best in the last column')
    print('| model | program | configuration | seconds | pairs/s | best seqgrad / best textbook |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name, (data_file, hidden, kind, opts) in MODELS.items():
        if name.split(',')[0] not in a.models:
            continue
        rows = []
        for t in a.threads:
            n, sec = run_textbook(a.textbook, data_file, hidden, kind, t)
            rows.append(('textbook (numpy)', f'{t} thread(s)', n, sec))
        data = os.path.join(a.data_dir, data_file)
        for t in a.threads:
            n, sec = run_seqgrad(a.seqgrad, data, hidden, opts, 1, t)
            rows.append(('seqgrad', f'{t} thread(s)', n, sec))
        if use_mpi:
            n, sec = run_seqgrad(a.seqgrad, data, hidden, opts, a.ranks, 1)
            rows.append(('seqgrad', f'{a.ranks} ranks x 1 thread', n, sec))
        best = {}
        for prog, _, n, sec in rows:
            key = 'seqgrad' if prog == 'seqgrad' else 'textbook'
            best[key] = max(best.get(key, 0.0), n / sec)
        for i, (prog, cfg, n, sec) in enumerate(rows):
            last = f'**{best["seqgrad"] / best["textbook"]:.2f}**' if i == len(rows) - 1 else ''
            print(f'| {name} | {prog} | {cfg} | {sec:.1f} s for {n:,} | {n / sec:,.0f} | {last} |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
