#!/usr/bin/python3
"""parity_seq2seq.py -- compares seqgrad's seq2seq (models/seq2seq) with the same model in torch, f64.

For each configuration (attention score x reversed / peeky / input feeding / encoder layers):
  1. writes one padded batch (sources and targets of different lengths, masks) and the model's
     settings to <work>/<config>.in.safetensors;
  2. runs the C driver  sg_parity_seq2seq IN OUT,  which initializes the model from a seed,
     scales every weight (so that gates and tanh are not nearly linear), records the masked
     teacher-forced loss and runs backward, and writes every weight, the loss and every gradient;
  3. builds the same model in torch from those weights: nn.Embedding (shared by both sides),
     nn.LSTM over packed sequences for the encoder, nn.LSTMCell for the decoder, the attention
     written out (dot h.k, general (hW).k, additive v.tanh(kW_k + hW_q + b)), the padding mask,
     Luong's tanh([h; ctx] W_c), the output layer and F.cross_entropy over the real tokens;
  4. compares the loss and every gradient: max abs difference <= 1e-10, nothing missing.
A negative control changes one encoder weight by 1e-7 on the torch side only and checks that
the comparison notices.  Prints one line per check and "N passed, M failed"; exits 1 on failure.

Usage: /usr/bin/python3 parity_seq2seq.py DRIVER [--work DIR] [--tol X]
Dimension legend: S source steps, T target steps, B batch, V vocabulary, E embedding, H hidden.
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity import st_load, st_save  # noqa: E402 (same directory)

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"parity_seq2seq.py: cannot import numpy/torch ({e}); run with /usr/bin/python3")
    print("0 passed, 1 failed")
    sys.exit(1)

TOL = 1e-10
V, E, H = 9, 3, 4
PAD, BOS, EOS = 0, 1, 2
SRC_LENS = [5, 3, 1]  # B = 3 examples of different lengths
TGT_LENS = [4, 2, 3]  # real target tokens, "<eos>" included
MASKED = 1e4          # the score seqgrad adds at padded source steps

# name, attention, reverse, peeky, input feeding, encoder layers
CONFIGS = [
    ('none', 'none', 0, 0, 0, 1),
    ('dot', 'dot', 0, 0, 0, 1),
    ('general', 'general', 0, 0, 0, 1),
    ('additive', 'additive', 0, 0, 0, 1),
    ('dot-reversed-peeky-feeding', 'dot', 1, 1, 1, 1),
    ('general-2layers-feeding', 'general', 0, 0, 1, 2),
    ('additive-reversed-peeky', 'additive', 1, 1, 0, 1),
    ('none-reversed-peeky-2layers', 'none', 1, 1, 0, 2),
    ('general-reversed-peeky', 'general', 1, 1, 0, 1),
]


def make_batch(seed):
    """Time-major ids and masks, as sg_pair_batch lays them out (padding id 0, mask 0)."""
    r = np.random.RandomState(seed)
    S, T, B = max(SRC_LENS), max(TGT_LENS), len(SRC_LENS)
    src, src_mask = np.zeros((S, B)), np.zeros((S, B))
    dec_in, dec_out, tgt_mask = np.zeros((T, B)), np.zeros((T, B)), np.zeros((T, B))
    for j in range(B):
        src[:SRC_LENS[j], j] = r.randint(4, V, SRC_LENS[j])
        src_mask[:SRC_LENS[j], j] = 1
        words = list(r.randint(4, V, TGT_LENS[j] - 1))
        dec_in[:TGT_LENS[j], j] = [BOS] + words
        dec_out[:TGT_LENS[j], j] = words + [EOS]
        tgt_mask[:TGT_LENS[j], j] = 1
    return {'src': src, 'src_mask': src_mask, 'dec_in': dec_in, 'dec_out': dec_out, 'tgt_mask': tgt_mask}


def lstm_params(w, pre):
    """seqgrad's (W_x (I, 4H), W_h (H, 4H), b_x, b_h) as torch's (weight_ih, weight_hh, bias_ih, bias_hh)."""
    return w[pre + '.W_x'].t(), w[pre + '.W_h'].t(), w[pre + '.b_x'], w[pre + '.b_h']


def torch_loss(w, batch, attention, reverse, peeky, feed, layers):
    """The loss from the leaf tensors w (seqgrad names, seqgrad layouts)."""
    S, B = batch['src'].shape
    T = batch['dec_in'].shape[0]
    src = torch.tensor(batch['src'], dtype=torch.long).t()  # (B, S)
    if reverse:  # each example's real tokens reversed in place, padding left at the end
        src = src.clone()
        for j in range(B):
            n = SRC_LENS[j]
            src[j, :n] = src[j, :n].flip(0)
    emb = w['embed']                                         # (V, E)
    x = F.embedding(src, emb)                                # (B, S, E)
    enc = torch.nn.LSTM(E, H, num_layers=layers, batch_first=True).double()
    for l in range(layers):  # the module's parameters become functions of the leaves
        wi, wh, bi, bh = lstm_params(w, f'enc.l{l}')
        for name, t in (('weight_ih', wi), ('weight_hh', wh), ('bias_ih', bi), ('bias_hh', bh)):
            delattr(enc, f'{name}_l{l}')
            setattr(enc, f'{name}_l{l}', t)
    enc._flat_weights = [getattr(enc, n) for n in enc._flat_weights_names]
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(SRC_LENS), batch_first=True,
                                                     enforce_sorted=False)
    out, (hn, cn) = enc(packed)
    keys, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, H)
    h, c = hn[-1], cn[-1]
    h0 = h
    bias = torch.tensor((batch['src_mask'].T - 1) * MASKED)  # (B, S): 0 real, -1e4 padding
    dwi, dwh, dbi, dbh = lstm_params(w, 'dec')
    feed_state = torch.zeros(B, H, dtype=torch.float64)
    logits = []
    for t in range(T):
        ids = torch.tensor(batch['dec_in'][t], dtype=torch.long)
        parts = [F.embedding(ids, emb)]
        if peeky:
            parts.append(h0)
        if feed:
            parts.append(feed_state)
        u = torch.cat(parts, 1)
        gates = u @ dwi.t() + dbi + h @ dwh.t() + dbh
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        z = h
        if attention != 'none':
            if attention == 'dot':
                s = torch.einsum('bsh,bh->bs', keys, h)
            elif attention == 'general':
                s = torch.einsum('bsh,bh->bs', keys, h @ w['attn.W.W'])
            else:
                e = torch.tanh(keys @ w['attn.Wk.W'] + (h @ w['attn.Wq.W'] + w['attn.Wq.b'])[:, None, :])
                s = (e @ w['attn.v.W'])[:, :, 0]
            a = torch.softmax(s + bias, dim=1)
            ctx = torch.einsum('bs,bsh->bh', a, keys)
            z = torch.tanh(torch.cat([h, ctx], 1) @ w['attn.combine.W'])
            feed_state = z
        if peeky:
            z = torch.cat([z, h0], 1)
        logits.append(z @ w['out.W'] + w['out.b'])
    y = torch.tensor(batch['dec_out'], dtype=torch.long).reshape(-1)
    mask = torch.tensor(batch['tgt_mask']).reshape(-1) > 0
    all_logits = torch.cat(logits, 0)  # (T*B, V), time-major as seqgrad's
    return F.cross_entropy(all_logits[mask], y[mask], reduction='sum') / mask.sum()


def run_case(driver, work, name, attention, reverse, peeky, feed, layers, seed, tol, perturb=None):
    batch = make_batch(seed)
    S, B = batch['src'].shape
    meta = {'parity.V': str(V), 'parity.E': str(E), 'parity.H': str(H), 'parity.layers': str(layers),
            'parity.S': str(S), 'parity.T': str(batch['dec_in'].shape[0]), 'parity.B': str(B),
            'parity.attention': attention, 'parity.reverse': str(reverse), 'parity.peeky': str(peeky),
            'parity.feed': str(feed), 'parity.seed': str(seed), 'parity.scale': '3'}
    fin = os.path.join(work, f'{name}.in.safetensors')
    fout = os.path.join(work, f'{name}.out.safetensors')
    st_save(fin, batch, meta)
    if os.path.exists(fout):
        os.remove(fout)
    r = subprocess.run([driver, fin, fout], capture_output=True, text=True)
    if r.returncode != 0:
        return False, float('inf'), f'driver exit {r.returncode}: {r.stderr.strip()}'
    got, _ = st_load(fout)
    names = [k for k in got if k != 'loss' and not k.startswith('grad/')]
    w = {k: torch.tensor(np.array(got[k]), dtype=torch.float64, requires_grad=True) for k in names}
    if perturb:
        pname, idx, delta = perturb
        with torch.no_grad():
            w[pname].view(-1)[idx] += delta
    loss = torch_loss(w, batch, attention, reverse, peeky, feed, layers)
    loss.backward()
    problems, worst, where = [], abs(loss.item() - float(got['loss'][0])), 'loss'
    for k in sorted(names):
        if 'grad/' + k not in got:
            problems.append(f'grad/{k} missing')
            continue
        if w[k].grad is None:
            problems.append(f'{k} gets no gradient in torch (not used: a name the torch model misses)')
            continue
        d = float(np.max(np.abs(w[k].grad.numpy() - got['grad/' + k])))
        if not np.isfinite(d) or d > worst:
            worst, where = d if np.isfinite(d) else float('inf'), 'grad/' + k
    if problems:
        return False, worst, '; '.join(problems)
    return worst <= tol, worst, f'loss {loss.item():.6f}, {len(names)} gradients, worst {where}'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('driver', help='path of the sg_parity_seq2seq executable')
    ap.add_argument('--work', help='directory for the exchanged files (default: a temporary one, removed)')
    ap.add_argument('--tol', type=float, default=TOL)
    a = ap.parse_args()
    if not os.access(a.driver, os.X_OK):
        print(f'parity_seq2seq.py: driver {a.driver!r} is not an executable (build sg_parity_seq2seq)')
        print('0 passed, 1 failed')
        return 1
    torch.set_num_threads(1)
    tmp = None if a.work else tempfile.TemporaryDirectory(prefix='sg_parity_seq2seq.')
    work = a.work or tmp.name
    os.makedirs(work, exist_ok=True)
    passed = failed = 0
    for k, (name, att, rev, peeky, feed, layers) in enumerate(CONFIGS):
        ok, worst, msg = run_case(a.driver, work, name, att, rev, peeky, feed, layers, 2000 + k, a.tol)
        print(f'{"PASS" if ok else "FAIL"} seq2seq-{name:<30} max abs diff {worst:.3e} ({msg})')
        passed, failed = passed + ok, failed + (not ok)
    ok, worst, msg = run_case(a.driver, work, 'control', 'dot', 0, 0, 0, 1, 2100, a.tol,
                              perturb=('enc.l0.W_x', 3, 1e-7))
    seen = (not ok) and np.isfinite(worst) and worst > a.tol
    print(f'{"PASS" if seen else "FAIL"} seq2seq-control-perturbed{"":<13} a 1e-7 weight change gives '
          f'max abs diff {worst:.3e} {"> " if seen else "<= "}{a.tol:.0e}')
    passed, failed = passed + seen, failed + (not seen)
    if tmp:
        tmp.cleanup()
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
