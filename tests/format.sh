#!/usr/bin/env bash
# Every C source and header of the project is formatted as .clang-format says
# (clang-format 14, Debian 12's).  Regions the formatter would garble (kernels
# written as macro arguments, one-line case tables) are fenced with
# "clang-format off/on" comments.  Fix a failure with:
#   clang-format -i $(git ls-files '*.c' '*.h')
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
command -v clang-format > /dev/null || { echo "clang-format is not installed (apt-get install clang-format)"; echo "0 passed, 1 failed"; exit 1; }
[ -f .clang-format ] || { echo "no .clang-format at the top"; echo "0 passed, 1 failed"; exit 1; }
files=$(find graph ops models frontends tests -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "no sources found"; echo "0 passed, 1 failed"; exit 1; }
bad=""
for f in $files; do
  clang-format --dry-run --Werror "$f" > /dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
  echo "not formatted as .clang-format says:$bad"
  for f in $bad; do clang-format "$f" | diff -u "$f" - | head -20; done
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$(echo "$files" | wc -w) files formatted as .clang-format says"
echo "1 passed, 0 failed"
