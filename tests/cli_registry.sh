#!/usr/bin/env bash
# The op registry agrees with the headers: every function declared in
# ops/sg_ops.h is registered, and every registered prototype (types AND
# argument names) is, word for word, the declaration in its header.  (The
# types are also checked by the compiler: sg_registry.c static-asserts each
# line of the list against the function.)  --json lists the same entries.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$seqgrad" registry > "$dir/reg.txt" || fail "seqgrad registry"
"$seqgrad" registry --json > "$dir/reg.json" || fail "seqgrad registry --json"
/usr/bin/python3 - "$root" "$dir/reg.txt" "$dir/reg.json" <<'PY' || fail "the registry and the headers disagree"
import json, re, sys, pathlib
root, reg_txt, reg_json = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
def norm(s):
    s = re.sub(r'/\*.*?\*/', ' ', s, flags=re.S)
    s = s.replace('SG_NODISCARD', ' ')
    s = re.sub(r'__attribute__\(\(.*?\)\)', ' ', s)
    s = re.sub(r'\s+', ' ', s).strip()
    s = re.sub(r'\s*([(),;*])\s*', r'\1', s)
    return s
decls = {}
for h in list((root / 'ops').glob('*.h')) + list((root / 'graph').rglob('*.h')) + list((root / 'models').rglob('*.h')):
    text = re.sub(r'/\*.*?\*/', ' ', h.read_text(), flags=re.S)
    for m in re.finditer(r'^[A-Za-z_][^;{}#]*?\bsg_(\w+)\s*\([^;{}]*\)\s*[^;{}]*;', text, flags=re.M):
        decls.setdefault(m.group(1), (h.relative_to(root), norm(m.group(0))))
reg = {}
for line in open(reg_txt):
    m = re.search(r'\bsg_(\w+)\(', line)
    if m and not line.startswith('#'):
        reg[m.group(1)] = norm(line)
ops_h = re.sub(r'/\*.*?\*/', ' ', (root / 'ops' / 'sg_ops.h').read_text(), flags=re.S)
public_ops = set(re.findall(r'\bsg_(\w+)\s*\(', ops_h))
missing = sorted(public_ops - set(reg))
assert not missing, 'ops/sg_ops.h declares functions the registry lacks: %s' % missing
bad = []
for name, proto in reg.items():
    if name not in decls:
        bad.append('%s: no declaration found in the headers' % name)
    elif decls[name][1] != proto:
        bad.append('%s:\n  header   %s (%s)\n  registry %s' % (name, decls[name][1], decls[name][0], proto))
assert not bad, '\n'.join(bad)
js = json.load(open(reg_json))
assert [e['name'] for e in js] == list(reg), 'the JSON lists other entries'
assert all(len(e['args']) == reg[e['name']].count(',') + 1 for e in js), 'JSON argument counts'
print('registry: %d entries, %d of them the ops of ops/sg_ops.h, each the header\'s declaration' % (len(reg), len(public_ops)))
PY
echo "1 passed, 0 failed"
