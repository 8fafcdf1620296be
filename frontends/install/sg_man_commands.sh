#!/usr/bin/env bash
# Writes help2man's include file for seqgrad's man page: a COMMANDS section
# with every command's own --help (the options it takes), from the built CLI.
# usage: sg_man_commands.sh SEQGRAD OUT
set -euo pipefail
seqgrad=$1 out=$2
{
  echo "[COMMANDS]"
  "$seqgrad" help | sed -n 's/^  \([a-z][a-z0-9]*\) .*/\1/p' | while read -r c; do
    echo ".SS $c"
    echo ".nf"
    "$seqgrad" "$c" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
    echo ".fi"
  done
} > "$out.tmp"
mv "$out.tmp" "$out"
