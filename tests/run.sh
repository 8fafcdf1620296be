#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds (build/), runs every
# test with ctest, then builds without MPI (build-nompi/) for the tests of
# the feature's absence, then with AddressSanitizer + UBSan
# (build-asan/) and runs every test there, then with ThreadSanitizer
# (build-tsan/) for the tests of the threaded word2vec trainer, then fuzzes;
# any sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_WERROR=ON > /dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure)

echo "== build without MPI (SG_MPI=OFF): data-parallel training absent, and saying so =="
cmake -S . -B build-nompi -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_MPI=OFF -DSG_WERROR=ON > /dev/null
cmake --build build-nompi -j"$jobs" --target seqgrad test_comm
(cd build-nompi && ctest --output-on-failure -R '^(test_comm|cli_dist)$')

echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSG_SANITIZE=ON -DSG_WERROR=ON > /dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure)

echo "== ThreadSanitizer: the engine's worker pool and the data-parallel word2vec workers (test_pool, test_packed, cli_word2vec, test_word2vec, test_optim) =="
cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_WERROR=ON \
  -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread > /dev/null
cmake --build build-tsan -j"$jobs" --target seqgrad test_pool test_packed test_word2vec test_optim
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R '^(test_pool|test_packed|cli_word2vec|test_word2vec|test_optim)$')

echo "== fuzz the checkpoint loader (45 s), the text parsers (45 s) and the cell-file parser (45 s), libFuzzer + ASan/UBSan =="
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_FUZZ=ON -DSG_WERROR=ON > /dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_checkpoint fuzz_text fuzz_cellfile
mkdir -p build-fuzz/corpus && cp build-fuzz/tests/fuzz_seeds/*.safetensors build-fuzz/corpus/
build-fuzz/tests/fuzz_checkpoint -max_total_time=45 -artifact_prefix=build-fuzz/ build-fuzz/corpus/
mkdir -p build-fuzz/corpus_text
printf '16+75  _91  \n52+607 _659 \nthe cat\tle chat\n' > build-fuzz/corpus_text/pairs.txt
printf 'the cat sat\non the mat\n\n<unk> w1 w2\n' > build-fuzz/corpus_text/corpus.txt
build-fuzz/tests/fuzz_text -max_total_time=45 -artifact_prefix=build-fuzz/ build-fuzz/corpus_text/
mkdir -p build-fuzz/corpus_cell && cp docs/cells/*.cell build-fuzz/corpus_cell/
build-fuzz/tests/fuzz_cellfile -max_total_time=45 -artifact_prefix=build-fuzz/ build-fuzz/corpus_cell/
