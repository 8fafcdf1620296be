#!/usr/bin/env bash
# `cmake --install` into a temporary prefix: the shared library (SONAME
# libseqgrad.so.0) and the static one, the headers under include/seqgrad/,
# the CLI and its man page, seqgrad.pc and the CMake package; then a program
# outside the tree (tests/install/example.c) is built against that prefix
# three ways, with pkg-config, with find_package(seqgrad), and statically,
# and each build runs its gradient check.
set -u
seqgrad=$1
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
build=$(cd "$(dirname "$seqgrad")" && pwd)
src=$(cd "$(dirname "$0")" && pwd)/install
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
p="$dir/prefix"
# a sanitized build's library needs the sanitizers' runtimes in the program too
san=()
grep -q '^SG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && san=(-fsanitize=address,undefined)
cmake --install "$build" --prefix "$p" > "$dir/install.log" 2>&1 || fail "cmake --install: $(tail -5 "$dir/install.log")"
so=$(find "$p" -name 'libseqgrad.so.0' | head -n 1)
[ -n "$so" ] || fail "no libseqgrad.so.0 installed"
lib=$(dirname "$so")
readelf -d "$so" | grep -q 'SONAME.*\[libseqgrad.so.0\]' || fail "SONAME is not libseqgrad.so.0: $(readelf -d "$so" | grep SONAME)"
[ -f "$lib/libseqgrad.a" ] && [ -L "$lib/libseqgrad.so" ] || fail "libseqgrad.a or the libseqgrad.so link missing"
[ -f "$p/include/seqgrad/graph/core/sg_graph.h" ] && [ -f "$p/include/seqgrad/models/hred/sg_hred.h" ] \
  || fail "headers missing under include/seqgrad"
[ -z "$(find "$p/include" -name '*_testing.h')" ] || fail "a test-only header was installed"
[ -z "$(find "$p/include" -path '*frontends*')" ] || fail "frontends headers were installed"
"$p/bin/seqgrad" --version | grep -q '^seqgrad 0\.' || fail "the installed CLI has no --version"
man -l "$p/share/man/man1/seqgrad.1" 2>/dev/null | grep -q 'hred' || fail "the man page lacks the commands"
# pkg-config (the .pc file is relocatable: it finds the prefix from where it is)
export PKG_CONFIG_PATH="$lib/pkgconfig"
pkg-config --exists seqgrad || fail "pkg-config does not find seqgrad"
# shellcheck disable=SC2046
cc -std=c11 "${san[@]}" -o "$dir/ex_pc" "$src/example.c" $(pkg-config --cflags seqgrad) $(pkg-config --libs seqgrad) -lm \
  2> "$dir/cc.log" || fail "build with pkg-config: $(head -5 "$dir/cc.log")"
out=$(LD_LIBRARY_PATH="$lib" "$dir/ex_pc") || fail "pkg-config build: $out"
echo "$out" | grep -q "gradient check passed" || fail "pkg-config build printed '$out'"
# statically: libseqgrad.a and the private requirements the .pc lists
# shellcheck disable=SC2046
cc -std=c11 "${san[@]}" -o "$dir/ex_static" "$src/example.c" $(pkg-config --cflags seqgrad) "$lib/libseqgrad.a" \
  $(pkg-config --static --libs-only-l --libs-only-L seqgrad | sed 's/-lseqgrad//') 2> "$dir/cc.log" \
  || fail "static build: $(head -5 "$dir/cc.log")"
ldd "$dir/ex_static" | grep -q libseqgrad && fail "the static build links libseqgrad.so"
"$dir/ex_static" | grep -q "gradient check passed" || fail "static build"
# find_package(seqgrad) -> seqgrad::seqgrad
cmake -S "$src" -B "$dir/cm" -DCMAKE_PREFIX_PATH="$p" -DCMAKE_C_FLAGS="${san[*]}" > "$dir/cm.log" 2>&1 || fail "find_package: $(tail -5 "$dir/cm.log")"
cmake --build "$dir/cm" > "$dir/cmb.log" 2>&1 || fail "find_package build: $(tail -5 "$dir/cmb.log")"
out=$(LD_LIBRARY_PATH="$lib" "$dir/cm/example") || fail "find_package build: $out"
echo "$out" | grep -q "gradient check passed" || fail "find_package build printed '$out'"
echo "$out"
echo "1 passed, 0 failed"
