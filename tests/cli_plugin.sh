#!/usr/bin/env bash
# The plugin tutorial (docs/plugin.md), end to end from an installed prefix:
# docs/plugin/mgu_plugin.c is built out of tree with pkg-config against that
# prefix, and the installed CLI trains, gradient-checks and draws it
# (--cell ./libmgu.so:mgu_cell).  A plugin that is missing, lacks its symbol
# or its declaration, declares the wrong arguments, or returns a tensor of
# the wrong shape gets a clear error and an exit code, not a crash.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
build=$(cd "$(dirname "$seqgrad")" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
san=()
grep -q '^SG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && san=(-fsanitize=address,undefined)
p="$dir/prefix"
cmake --install "$build" --prefix "$p" > "$dir/install.log" 2>&1 || fail "cmake --install: $(tail -3 "$dir/install.log")"
lib=$(dirname "$(find "$p" -name 'libseqgrad.so.0' | head -n 1)")
export PKG_CONFIG_PATH="$lib/pkgconfig" LD_LIBRARY_PATH="$lib"
cd "$dir" || fail "cd"
# shellcheck disable=SC2046
cc -std=c11 "${san[@]}" -shared -fPIC -o libmgu.so "$root/docs/plugin/mgu_plugin.c" $(pkg-config --cflags --libs seqgrad) \
  2> cc.log || fail "building the plugin: $(head -5 cc.log)"
sg="$p/bin/seqgrad"
out=$("$sg" gradcheck lm --cell ./libmgu.so:mgu_cell --layers 2 --bptt 4 --hidden 4 2>&1) || fail "gradcheck: $out"
echo "$out" | grep -q "gradcheck model *passed" || fail "gradcheck printed: $out"
"$sg" graph lm --cell ./libmgu.so:mgu_cell --layers 1 --bptt 3 --collapse scope -o mgu.png > /dev/null || fail "graph"
[ -s mgu.png ] || fail "no picture"
mkdir -p corpus
awk 'BEGIN { for (i = 0; i < 300; i++) print "the cat sat on the mat and the dog ran to the cat" }' > corpus/train.txt
head -n 40 corpus/train.txt > corpus/valid.txt; head -n 40 corpus/train.txt > corpus/test.txt
out=$("$sg" train lm --data corpus --cell ./libmgu.so:mgu_cell --hidden 16 --layers 1 --bptt 8 --batch 4 --epochs 2 \
      --optim adam --lr 0.01 --threads 1 2>&1) || fail "train: $out"
ppl=$(echo "$out" | sed -n 's/^test perplexity \([0-9.]*\).*/\1/p')
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$ppl') < 3 else 1)" || fail "test perplexity $ppl"
# a checkpoint of a plugin model names the library by its absolute path and
# keeps its declaration: eval works from another directory, and a library
# that now declares another cell, or is gone, is refused
"$sg" train lm --data corpus --cell ./libmgu.so:mgu_cell --hidden 16 --layers 1 --bptt 8 --batch 4 --epochs 1 \
  --threads 1 --save plug.st > train.log 2>&1 || fail "train --save: $(tail -3 train.log)"
want=$(sed -n 's/^test perplexity \([0-9.]*\).*/\1/p' train.log)
mkdir -p elsewhere
ev=$(cd elsewhere && "$sg" eval --load ../plug.st --data ../corpus --batch 4 --bptt 8 2>&1) || fail "eval from elsewhere: $ev"
[ "$ev" = "test perplexity $want (560 tokens)" ] || fail "eval printed '$ev', training $want"
sed 's/"state h H\\n"/"state h H  # changed\\n"/' "$root/docs/plugin/mgu_plugin.c" > mgu2.c
grep -q "# changed" mgu2.c || fail "the changed declaration"
# shellcheck disable=SC2046
cc -std=c11 "${san[@]}" -shared -fPIC -o libmgu.so.new mgu2.c $(pkg-config --cflags --libs seqgrad) 2> cc.log \
  || fail "mgu2.c: $(cat cc.log)"
cp libmgu.so libmgu.so.orig && mv libmgu.so.new libmgu.so
"$sg" eval --load plug.st --data corpus 2> err; rc=$?
[ $rc -eq 3 ] && grep -q "now declares another cell" err || fail "a changed plugin: exit $rc, $(cat err)"
rm libmgu.so
"$sg" eval --load plug.st --data corpus 2> err; rc=$?
[ $rc -eq 3 ] && grep -q "cannot load it" err || fail "a plugin gone: exit $rc, $(cat err)"
mv libmgu.so.orig libmgu.so
# bad plugins
"$sg" gradcheck lm --cell ./libnone.so:mgu_cell 2> err; rc=$?
[ $rc -eq 3 ] && grep -q "cannot load it" err || fail "a missing plugin: exit $rc, $(cat err)"
"$sg" gradcheck lm --cell ./libmgu.so:gru_cell 2> err; rc=$?
[ $rc -eq 3 ] && grep -q "has no symbol 'gru_cell'" err || fail "a missing symbol: exit $rc, $(cat err)"
cat > bad.c <<'C'
#include "ops/sg_ops.h"
const char nodecl_cell_x = 0;
sg_tensor *nodecl_cell(sg_graph *g, sg_tensor *x, sg_tensor *h) { (void)x; return sg_tanh(g, h); }
const char arity_cell_decl[] = "input x I\nstate h H\nparam W (I, H)\ncall arity_cell(x, h)\n";
sg_tensor *arity_cell(sg_graph *g, sg_tensor *x, sg_tensor *h) { (void)x; return sg_tanh(g, h); }
const char shape_cell_decl[] = "input x I\nstate h H\nparam W (I, H)\ncall shape_cell(W, x, h)\n";
sg_tensor *shape_cell(sg_graph *g, sg_tensor *W, sg_tensor *x, sg_tensor *h) { (void)h; return sg_tanh(g, x); (void)W; }
C
# shellcheck disable=SC2046
cc -std=c11 "${san[@]}" -shared -fPIC -o libbad.so bad.c $(pkg-config --cflags --libs seqgrad) 2> cc.log || fail "bad.c: $(cat cc.log)"
"$sg" gradcheck lm --cell ./libbad.so:nodecl_cell 2> err; rc=$?
[ $rc -eq 3 ] && grep -q "has no symbol 'nodecl_cell_decl'" err || fail "no declaration: exit $rc, $(cat err)"
"$sg" gradcheck lm --cell ./libbad.so:arity_cell 2> err; rc=$?
[ $rc -eq 3 ] && grep -q "the call passes 2 arguments, and 3 names are declared" err || fail "wrong arity: exit $rc, $(cat err)"
"$sg" gradcheck lm --cell ./libbad.so:shape_cell --hidden 5 --embed 7 2> err; rc=$?
[ $rc -eq 1 ] && grep -q "shape_cell\|h has shape\|shape" err || fail "a wrong shape: exit $rc, $(cat err)"
echo "plugin tutorial: $(echo "$out" | grep '^epoch 2')"
echo "1 passed, 0 failed"
