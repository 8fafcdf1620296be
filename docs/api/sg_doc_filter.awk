# sg_doc_filter.awk — Doxygen's INPUT_FILTER for seqgrad's headers, which are
# commented in plain C (no Doxygen markup).  It changes only what Doxygen
# reads, never the sources:
#   - a comment that starts a line ("/* text") becomes a documentation
#     comment ("/** text"), which Doxygen attaches to the declaration after it;
#     a section rule ("/* ---- name ---- */") stays a plain comment;
#   - a comment after a member on the same line (after its ";" or ",")
#     becomes a member comment ("/**< text */"), attached to the field or
#     enumerator before it; a comment inside a parameter list stays plain;
#   - inside documentation comments, the characters Doxygen would read as
#     markup or commands (\ @ < > # & %) are escaped, so the text shows as
#     written.
function escape(s,    p) {
    gsub(/\\/, "\\\\\\\\", s)
    gsub(/@/, "\\@", s)
    gsub(/</, "\\<", s)
    gsub(/>/, "\\>", s)
    gsub(/#/, "\\#", s)
    gsub(/&/, "\\\\\\&", s)
    gsub(/%/, "\\%", s)
    if (match(s, /^[ \t]*\*?[ \t]*\./)) {  # a line starting with "." would end a list
        p = RSTART + RLENGTH - 1
        s = substr(s, 1, p - 1) "\\" substr(s, p)
    }
    return s
}
# text of a comment body, escaped, with its end marker kept
function body(s,    i, head, tail) {
    i = index(s, "*/")
    if (i == 0) return escape(s)
    head = substr(s, 1, i - 1); tail = substr(s, i)
    return escape(head) tail
}
{
    line = $0
    if (in_doc) {                      # inside a documentation comment
        print body(line)
        if (index(line, "*/")) in_doc = 0
        next
    }
    if (in_plain) {                    # inside a plain comment (a rule, a licence)
        print line
        if (index(line, "*/")) in_plain = 0
        next
    }
    if (line ~ /^[ \t]*\/\*/) {       # a comment starting the line
        c = index(line, "/*")
        lead = substr(line, 1, c - 1); rest = substr(line, c + 2)
        if (rest ~ /^ *-+/ || rest ~ /^\*/) {  # a section rule, or already a doc comment
            print line
            if (!index(rest, "*/")) in_plain = 1
            next
        }
        print lead "/**" body(rest)
        if (!index(rest, "*/")) in_doc = 1
        next
    }
    c = index(line, "/*")              # a comment after a member (code ending in ";" or ",")
    if (c > 0 && line !~ /"[^"]*\/\*/ && substr(line, 1, c - 1) ~ /[;,][ \t]*$/) {
        code = substr(line, 1, c - 1); rest = substr(line, c + 2)
        print code "/**<" body(rest)
        if (!index(rest, "*/")) in_doc = 1
        next
    }
    print line
}
