#!/usr/bin/python3
"""word2vec on PTB: seqgrad against gensim (python3-gensim) and fastText (fasttext), same settings.

Measures, in one run on this machine, training words/s of skip-gram and CBOW (dimension 100,
window 5, 5 negatives, sample 1e-3, min count 5, 5 passes over ptb.train.txt, starting rate
0.025 skip-gram and 0.05 CBOW for every program) for seqgrad,
gensim and fastText (-minn 0 -maxn 0: plain word2vec), at 1 and 2 threads (seqgrad's --threads:
data-parallel workers, deterministic), best against best; and the quality figures (seqgrad's
vectors from its 1-thread run):
the nearest-neighbour overlap@10 between seqgrad and gensim over the 1,000 most frequent words,
against the overlap between gensim with seed 1 and gensim with seed 2; analogy accuracy and
coverage (questions-words.txt) of each; and the neighbours of a few frequent words.

Usage: /usr/bin/python3 tests/bench/bench_word2vec.py [--data FILE] [--questions FILE]
       [--seqgrad build/seqgrad] [--iter 5] [--arch skipgram cbow]
Installs python3-gensim and fasttext with apt-get when they are missing (root).  Benchmarks
measure; they assert nothing.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(ROOT, '..', 'shared', 'data')
WORDS = ['you', 'year', 'car', 'market']
# word2vec.c's starting rates, seqgrad's defaults, given to every program: gensim's own default
# is 0.025 for both architectures and fastText's 0.05 for both
LR = {'skipgram': 0.025, 'cbow': 0.05}


def ensure_peers():
    missing = []
    try:
        import gensim  # noqa: F401
    except ImportError:
        missing.append('python3-gensim')
    if not shutil.which('fasttext'):
        missing.append('fasttext')
    if missing:
        print(f'installing {" ".join(missing)} (apt-get)', flush=True)
        subprocess.run(['apt-get', 'install', '-y', '-q'] + missing, check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'), stdout=subprocess.DEVNULL)


def corpus_words(path):
    """Tokens as word2vec.c counts them: words plus one </s> per line."""
    n = 0
    with open(path) as f:
        for line in f:
            n += len(line.split()) + 1
    return n


def run_seqgrad(binary, data, arch, it, threads, out):
    t = time.perf_counter()
    p = subprocess.run([binary, 'train', 'word2vec', '--data', data, '--arch', arch, '--dim', '100', '--window', '5',
                        '--negative', '5', '--sample', '1e-3', '--min-count', '5', '--iter', str(it),
                        '--threads', str(threads), '-o', out],
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(f'seqgrad failed: {p.stderr.strip()[-300:]}')
    return time.perf_counter() - t


def run_gensim(data, arch, it, threads, seed, out):
    from gensim.models import Word2Vec
    t = time.perf_counter()
    m = Word2Vec(corpus_file=data, vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, epochs=it,
                 sg=1 if arch == 'skipgram' else 0, workers=threads, seed=seed, hs=0, alpha=LR[arch])
    secs = time.perf_counter() - t
    m.wv.save_word2vec_format(out)
    return secs


def run_fasttext(data, arch, it, threads, out):
    t = time.perf_counter()
    p = subprocess.run(['fasttext', arch, '-input', data, '-output', out, '-dim', '100', '-ws', '5', '-neg', '5',
                        '-t', '1e-3', '-minCount', '5', '-epoch', str(it), '-minn', '0', '-maxn', '0',
                        '-lr', str(LR[arch]), '-thread', str(threads), '-verbose', '0'], capture_output=True, text=True)
    if p.returncode:
        sys.exit(f'fasttext failed: {p.stderr.strip()[-300:]}')
    return time.perf_counter() - t


def overlap(a, b, words, k=10):
    total = 0
    for w in words:
        na = {x for x, _ in a.most_similar(w, topn=k)}
        nb = {x for x, _ in b.most_similar(w, topn=k)}
        total += len(na & nb) / k
    return total / len(words)


def analogy(kv, questions):
    score, sections = kv.evaluate_word_analogies(questions, restrict_vocab=len(kv.index_to_key))
    total = sum(len(s['correct']) + len(s['incorrect']) for s in sections if s['section'] == 'Total accuracy')
    return score, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.path.join(SHARED, 'ptb', 'ptb.train.txt'))
    ap.add_argument('--questions', default=os.path.join(SHARED, 'analogy', 'questions-words.txt'))
    ap.add_argument('--seqgrad', default=os.path.join(ROOT, 'build', 'seqgrad'))
    ap.add_argument('--iter', type=int, default=5)
    ap.add_argument('--arch', nargs='*', default=['skipgram', 'cbow'])
    a = ap.parse_args()
    ensure_peers()
    from gensim.models import KeyedVectors
    n_words = corpus_words(a.data) * a.iter
    n_questions = sum(1 for line in open(a.questions) if line.strip() and not line.startswith(':'))
    print(f'{os.path.basename(a.data)}: {n_words // a.iter} tokens x {a.iter} passes; dimension 100, window 5, '
          f'5 negatives, sample 1e-3, min count 5', flush=True)
    with tempfile.TemporaryDirectory() as d:
        for arch in a.arch:
            rows = []
            for t in (1, 2):
                sg_secs = run_seqgrad(a.seqgrad, a.data, arch, a.iter, t, f'{d}/sg.txt' if t == 1 else f'{d}/sg2.txt')
                g_secs = run_gensim(a.data, arch, a.iter, t, 1, f'{d}/g1.txt' if t == 1 else f'{d}/g_t2.txt')
                f_secs = run_fasttext(a.data, arch, a.iter, t, f'{d}/ft{t}')
                rows.append((t, n_words / sg_secs, n_words / g_secs, n_words / f_secs))
            run_gensim(a.data, arch, a.iter, 1, 2, f'{d}/g2.txt')
            print(f'\n{arch}: training words/s (higher is better)')
            print('| threads | seqgrad | gensim | fastText | seqgrad / fastest peer |')
            print('| --- | --- | --- | --- | --- |')
            for t, s, g, f in rows:
                print(f'| {t} | {s:.0f} | {g:.0f} | {f:.0f} | {s / max(g, f):.2f} |')
            best_peer = max(max(r[2], r[3]) for r in rows)
            print(f'best against best: seqgrad {max(r[1] for r in rows):.0f}, fastest peer {best_peer:.0f}, '
                  f'ratio {max(r[1] for r in rows) / best_peer:.3f}')
            sg = KeyedVectors.load_word2vec_format(f'{d}/sg.txt')
            g1 = KeyedVectors.load_word2vec_format(f'{d}/g1.txt')
            g2 = KeyedVectors.load_word2vec_format(f'{d}/g2.txt')
            ft = KeyedVectors.load_word2vec_format(f'{d}/ft1.vec')
            top = [w for w in g1.index_to_key if w in sg.key_to_index and w != '</s>'][:1000]
            o_sg, o_gg = overlap(sg, g1, top), overlap(g2, g1, top)
            print(f'overlap@10 over the {len(top)} most frequent words: seqgrad vs gensim seed 1 {o_sg:.3f}; '
                  f'gensim seed 2 vs seed 1 {o_gg:.3f}; ratio {o_sg / o_gg:.3f}')
            sg2 = KeyedVectors.load_word2vec_format(f'{d}/sg2.txt')
            o_sg2 = overlap(sg2, g1, [w for w in top if w in sg2.key_to_index])
            print(f'overlap@10 seqgrad --threads 2 vs gensim seed 1 {o_sg2:.3f} (ratio {o_sg2 / o_gg:.3f})')
            for name, kv in (('seqgrad', sg), ('gensim', g1), ('fastText', ft)):
                acc, covered = analogy(kv, a.questions)
                print(f'analogy {name}: {100 * acc:.2f}% of {covered} covered questions '
                      f'(coverage {100 * covered / n_questions:.1f}% of {n_questions})')
            for w in WORDS:
                for name, kv in (('seqgrad', sg), ('gensim', g1)):
                    if w in kv.key_to_index:
                        print(f'  {name:8} {w}: ' + ', '.join(x for x, _ in kv.most_similar(w, topn=8)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
