#!/usr/bin/python3
"""One training epoch of the textbook's numpy seq2seq models against seqgrad, on this machine.

Deep Learning from Scratch 2 (oreilly-japan/deep-learning-from-scratch-2, not part of seqgrad:
pass a checkout with --textbook) trains its attention seq2seq on the date set (ch08/train.py:
E 16, H 256, batch 128, Adam, clip 5, reversed input) and its reversed + peeky seq2seq on the
addition set (ch07, H 128). This script times one epoch of training (Trainer.fit, nothing else)
for each model and `seqgrad train seq2seq` with the same sizes for one epoch (its log's
seconds), each with --threads threads (numpy through OPENBLAS_NUM_THREADS), and prints training
pairs/s and the ratio. seqgrad trains on its 80% split (40,000 pairs), the textbook on its 90%
(45,000), so the rates are per pair. Benchmarks measure; they assert nothing.

Usage: /usr/bin/python3 tests/bench/bench_textbook.py --textbook DIR [--threads 1]
       [--seqgrad build/seqgrad] [--data-dir ../shared/data/seq2seq]
"""
import argparse
import json
import os
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


def main():
    if len(sys.argv) == 6 and sys.argv[1] == '--worker':
        textbook_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--textbook', required=True, help='a checkout of deep-learning-from-scratch-2')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seqgrad', default=os.path.join(ROOT, 'build', 'seqgrad'))
    ap.add_argument('--data-dir', default=os.path.join(ROOT, '..', 'shared', 'data', 'seq2seq'))
    a = ap.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    print(f'one epoch of training, {a.threads} thread(s) each; pairs/s (higher is better)')
    print('| model | textbook (numpy) | seqgrad | seqgrad / textbook |')
    print('| --- | --- | --- | --- |')
    for name, (data_file, hidden, kind, opts) in MODELS.items():
        p = subprocess.run([sys.executable, os.path.abspath(__file__), '--worker', os.path.abspath(a.textbook),
                            data_file, str(hidden), kind], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            sys.exit(f'bench_textbook: the textbook run failed: {p.stderr.strip()[-400:]}')
        book = json.loads(p.stdout.strip().splitlines()[-1])
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, 'log.jsonl')
            cmd = [a.seqgrad, 'train', 'seq2seq', '--data', os.path.join(a.data_dir, data_file), '--embed', '16',
                   '--hidden', str(hidden), '--batch', '128', '--epochs', '1', '--threads', str(a.threads),
                   '--log', log] + opts
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                sys.exit(f'bench_textbook: {" ".join(cmd)} failed: {p.stderr.strip()[-400:]}')
            row = json.loads(open(log).read().splitlines()[-1])
        sg_pairs = 40000  # the default 80/10/10 split of 50,000 pairs
        b_rate, s_rate = book['pairs'] / book['seconds'], sg_pairs / row['seconds']
        print(f'| {name} | {book["seconds"]:.1f} s for {book["pairs"]:,} ({b_rate:,.0f}/s) | '
              f'{row["seconds"]:.1f} s for {sg_pairs:,} ({s_rate:,.0f}/s) | {s_rate / b_rate:.2f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
