#!/usr/bin/python3
"""parity.py -- compares seqgrad's recurrent layers with torch.nn.RNN/LSTM/GRU in f64.

For each configuration (kind x layers x directions) this script
  1. builds the torch module in float64 with a fixed seed, an input x (T, B, I)
     and initial states h0 (and c0) (N*D, B, H), all with requires_grad, and
     fixed random R (T, B, D*H), S and U (N*D, B, H);
  2. writes them to <work>/<config>.in.safetensors under seqgrad's names
     (weights transposed, see README.md), with json + struct + numpy only;
  3. runs the C driver  sg_parity KIND LAYERS DIRS IN OUT;
  4. computes L = sum(out*R) + sum(h_n*S) [+ sum(c_n*U)] with torch, backward;
  5. loads OUT and compares the output, h_n, c_n, the loss and every gradient
     (parameters, input, h0, c0) with torch's: the max absolute difference
     must be <= 1e-10 for every tensor, and no tensor may be missing.
A negative control then perturbs one input weight by 1e-7 and checks that the
comparison notices.  Prints one line per check and "N passed, M failed";
exits 1 when any check failed.

Usage: /usr/bin/python3 parity.py DRIVER [--work DIR] [--only NAME ...] [--tol X] [--list]
Dimension legend: T time steps, B batch, I input features, H hidden units,
N layers, D directions, G gates.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # the shell wrapper checks this first; keep the message clear anyway
    print(f"parity.py: cannot import numpy/torch ({e}); install python3-torch python3-numpy "
          f"and run with /usr/bin/python3")
    print("0 passed, 1 failed")
    sys.exit(1)

T, B, I, H = 5, 3, 4, 3
TOL = 1e-10
KINDS = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru']
SHAPES = [(1, 1, '1layer'), (2, 1, '2layers'), (1, 2, 'bi'), (2, 2, 'bi-2layers')]  # (N, D, suffix)

from safetensors_np import NP, st_load, st_save  # noqa: E402,F401 (same directory; parity_seq2seq imports them from here)


def sg_layer_name(kind):
    """seqgrad's layer-stack name, which the driver sets to the cell kind's name."""
    return 'rnn' if kind.startswith('rnn') else kind


def name_map(kind, N, D):
    """[(torch parameter name, seqgrad parameter name, transpose?)] for the stack."""
    out = []
    for l in range(N):
        for d in range(D):
            sfx = '_reverse' if d else ''
            pre = f'{sg_layer_name(kind)}.l{l}{sfx}'
            out += [(f'weight_ih_l{l}{sfx}', f'{pre}.W_x', True), (f'weight_hh_l{l}{sfx}', f'{pre}.W_h', True),
                    (f'bias_ih_l{l}{sfx}', f'{pre}.b_x', False), (f'bias_hh_l{l}{sfx}', f'{pre}.b_h', False)]
    return out


def make_module(kind, N, D):
    bi = D == 2
    if kind == 'lstm':
        return torch.nn.LSTM(I, H, num_layers=N, bidirectional=bi)
    if kind == 'gru':
        return torch.nn.GRU(I, H, num_layers=N, bidirectional=bi)
    return torch.nn.RNN(I, H, num_layers=N, bidirectional=bi, nonlinearity=kind[4:])


def torch_case(kind, N, D, seed):
    """Builds the module and data with a fixed seed; returns (module, data dict)."""
    torch.manual_seed(seed)
    m = make_module(kind, N, D).double()
    with torch.no_grad():  # a wider range than PyTorch's 1/sqrt(H) makes the gates less linear
        for p in m.parameters():
            p.uniform_(-0.8, 0.8)
    data = {
        'input': torch.randn(T, B, I, dtype=torch.float64),
        'h0': 0.5 * torch.randn(N * D, B, H, dtype=torch.float64),
        'R': torch.randn(T, B, D * H, dtype=torch.float64),
        'S': torch.randn(N * D, B, H, dtype=torch.float64),
    }
    if kind == 'lstm':
        data['c0'] = 0.5 * torch.randn(N * D, B, H, dtype=torch.float64)
        data['U'] = torch.randn(N * D, B, H, dtype=torch.float64)
    return m, data


def torch_reference(kind, m, data):
    """Forward + backward in torch: {seqgrad tensor name: ndarray}."""
    x = data['input'].clone().requires_grad_(True)
    h0 = data['h0'].clone().requires_grad_(True)
    if kind == 'lstm':
        c0 = data['c0'].clone().requires_grad_(True)
        out, (hn, cn) = m(x, (h0, c0))
    else:
        out, hn = m(x, h0)
    loss = (out * data['R']).sum() + (hn * data['S']).sum()
    if kind == 'lstm':
        loss = loss + (cn * data['U']).sum()
    m.zero_grad()
    loss.backward()
    ref = {'output': out.detach().numpy(), 'h_n': hn.detach().numpy(), 'loss': np.array([loss.item()]),
           'grad/input': x.grad.numpy(), 'grad/h0': h0.grad.numpy()}
    if kind == 'lstm':
        ref['c_n'] = cn.detach().numpy()
        ref['grad/c0'] = c0.grad.numpy()
    params = dict(m.named_parameters())
    N, D = m.num_layers, 2 if m.bidirectional else 1
    for tname, sname, tr in name_map(kind, N, D):
        gr = params[tname].grad.numpy()
        ref['grad/' + sname] = gr.T if tr else gr
    return ref


def write_input(path, kind, N, D, m, data, perturb=None):
    """The driver's input file; perturb = (seqgrad name, flat index, delta) for the control."""
    tensors = {k: v.numpy() for k, v in data.items()}
    params = dict(m.named_parameters())
    for tname, sname, tr in name_map(kind, N, D):
        a = params[tname].detach().numpy()
        tensors[sname] = np.array(a.T if tr else a)
    if perturb:
        sname, idx, delta = perturb
        tensors[sname].flat[idx] += delta
    meta = {'parity.T': str(T), 'parity.B': str(B), 'parity.I': str(I), 'parity.H': str(H),
            'parity.config': f'{kind} layers={N} dirs={D}'}
    st_save(path, tensors, meta)


def compare(ref, got):
    """(max abs difference over everything, worst tensor name, list of problems)."""
    worst, worst_name, problems = 0.0, '-', []
    for name in sorted(ref):
        if name not in got:
            problems.append(f'{name} missing from the driver output')
            continue
        a, b = ref[name], got[name]
        if a.shape != b.shape:
            problems.append(f'{name}: shape {b.shape}, expected {a.shape}')
            continue
        d = float(np.max(np.abs(a - b))) if a.size else 0.0
        if not np.isfinite(d):
            d = float('inf')
        if d > worst or worst_name == '-':
            worst, worst_name = d, name
    for name in sorted(set(got) - set(ref)):
        problems.append(f'{name}: unexpected tensor in the driver output')
    return worst, worst_name, problems


def run_case(driver, work, kind, N, D, seed, tol, perturb=None, tag=''):
    """Runs one configuration; returns (passed, max abs diff, message)."""
    m, data = torch_case(kind, N, D, seed)
    base = os.path.join(work, f'{kind}-{N}x{D}{tag}')
    fin, fout = base + '.in.safetensors', base + '.out.safetensors'
    write_input(fin, kind, N, D, m, data, perturb)
    if os.path.exists(fout):
        os.remove(fout)
    r = subprocess.run([driver, kind, str(N), str(D), fin, fout], capture_output=True, text=True)
    if r.returncode != 0:
        return False, float('inf'), f'driver exit {r.returncode}: {r.stderr.strip()}'
    got, _ = st_load(fout)
    ref = torch_reference(kind, m, data)
    worst, where, problems = compare(ref, got)
    if problems:
        return False, worst, '; '.join(problems)
    return worst <= tol, worst, f'{len(ref)} tensors, worst {where}'


def configs():
    for ki, kind in enumerate(KINDS):
        for si, (N, D, suffix) in enumerate(SHAPES):
            yield f'{kind}-{suffix}', kind, N, D, 1000 + 10 * ki + si


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('driver', nargs='?', help='path of the sg_parity executable')
    ap.add_argument('--work', help='directory for the exchanged files (default: a temporary one, removed)')
    ap.add_argument('--only', nargs='*', default=None, help='run only these configurations')
    ap.add_argument('--tol', type=float, default=TOL)
    ap.add_argument('--list', action='store_true', help='list the configurations and exit')
    a = ap.parse_args()
    if a.list:
        for name, *_ in configs():
            print(name)
        return 0
    if not a.driver or not os.access(a.driver, os.X_OK):
        print(f'parity.py: driver {a.driver!r} is not an executable (build the sg_parity target)')
        print('0 passed, 1 failed')
        return 1
    torch.set_num_threads(1)
    tmp = None
    if a.work:
        os.makedirs(a.work, exist_ok=True)
        work = a.work
    else:
        tmp = tempfile.TemporaryDirectory(prefix='sg_parity.')
        work = tmp.name
    passed = failed = 0
    names = [c[0] for c in configs()]
    for n in a.only or []:
        if n not in names:
            print(f'parity.py: unknown configuration {n!r} (--list shows them)')
            failed += 1
    for name, kind, N, D, seed in configs():
        if a.only is not None and name not in a.only:
            continue
        ok, worst, msg = run_case(a.driver, work, kind, N, D, seed, a.tol)
        print(f'{"PASS" if ok else "FAIL"} {name:<22} max abs diff {worst:.3e} ({msg})')
        passed, failed = passed + ok, failed + (not ok)
    if a.only is None:
        # Negative control: a 1e-7 change of one weight must be seen (the test can fail).
        kind, N, D = 'lstm', 1, 1
        ok, worst, msg = run_case(a.driver, work, kind, N, D, 4242, a.tol,
                                  perturb=('lstm.l0.W_x', 5, 1e-7), tag='-perturbed')
        seen = (not ok) and np.isfinite(worst) and worst > a.tol
        print(f'{"PASS" if seen else "FAIL"} {"control-perturbed":<22} a 1e-7 weight change gives '
              f'max abs diff {worst:.3e} {"> " if seen else "<= "}{a.tol:.0e} ({msg})')
        passed, failed = passed + seen, failed + (not seen)
    if tmp:
        tmp.cleanup()
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
