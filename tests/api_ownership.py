#!/usr/bin/python3
"""Every public function says who owns what it returns and what it invalidates.

Over the public headers (graph/, ops/, models/; *_testing.h excluded), each
function that returns a pointer, writes through a pointer-to-pointer
argument, or frees, resets or converts something (a name ending in _free,
_reset or _set_dtype) must be covered by an ownership statement: either its
own comment (the block comment right above it, or a comment on its line)
uses the vocabulary of ownership (owned, owns, the caller's, borrowed, free,
valid until, invalidates, arena, static, ...), or the header's top comment
has an "Ownership:" paragraph, the rule for the whole file.  Prints each
uncovered function as file:line: name and exits 1 when there is one.

usage: api_ownership.py ROOT
"""
import os
import re
import sys

WORDS = re.compile(r"own|caller|borrow|free|valid until|valid while|outliv|invalidat|arena|static|dangl|belongs?",
                   re.I)
DECL = re.compile(r"(?ms)^(?:SG_NODISCARD )?(?:const )?(?:struct )?[a-z_0-9]+\s*(\**)\s*(sg_[a-z_0-9]+)\(([^;{]*?)\)"
                  r"[^;{]*;([^\n]*)")


def top_comment(text):
    m = re.match(r"\s*/\*(.*?)\*/", text, re.S)
    return m.group(1) if m else ""


def comment_above(text, start):
    before = text[:start].rstrip()
    m = re.search(r"/\*((?:(?!\*/).)*)\*/$", before, re.S)
    return m.group(1) if m else ""


def main(root):
    uncovered, checked, headers = [], 0, 0
    for top in ("graph", "ops", "models"):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, top))):
            for name in sorted(files):
                if not name.endswith(".h") or name.endswith("_testing.h"):
                    continue
                path = os.path.join(dirpath, name)
                text = open(path, encoding="utf-8").read()
                headers += 1
                file_rule = "Ownership:" in top_comment(text)
                for m in DECL.finditer(text):
                    stars, fn, args, tail = m.group(1), m.group(2), m.group(3), m.group(4)
                    if not (stars or "**" in args or re.search(r"_(free|reset|set_dtype)$", fn)):
                        continue
                    checked += 1
                    if file_rule or WORDS.search(comment_above(text, m.start())) or WORDS.search(tail):
                        continue
                    line = text.count("\n", 0, m.start()) + 1
                    uncovered.append(f"{os.path.relpath(path, root)}:{line}: {fn}")
    for u in uncovered:
        print(u)
    print(f"ownership: {checked} functions in {headers} headers, {len(uncovered)} without an ownership statement")
    return 1 if uncovered or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
