#!/bin/sh
# check-options.sh BINARY: the options BINARY --help prints (the option table in probe/cli.c) must
# be exactly the options documented in packaging/azbprobe.1 and completed by
# packaging/azbprobe.bash-completion.
#   - every long option of --help is an OPTIONS entry of the man page and is in the completion;
#   - the man page's OPTIONS entries, every --option the man page mentions anywhere, and every
#     --option in the completion exist in --help (nothing documented that the binary lacks);
#   - each OPTIONS entry of the man page shows the same short option and argument name as
#     --help ("-v, --verbose", "--region NAME").
# Runs only "BINARY --help": no network traffic. Exit 0 when all agree, 1 on a mismatch (each
# one named on stderr), 2 on a usage error or when --help cannot be run or parsed.
# Environment: AZB_MAN and AZB_COMPLETION check other files than the ones next to this script;
# AZB_KEEP_TMP=1 keeps the extracted lists (help.sig, man.sig, *.opts) in the temporary directory.
set -eu

prog=check-options.sh
if [ $# -ne 1 ]; then
    echo "usage: $prog BINARY" >&2
    exit 2
fi
bin=$1
case $bin in */*) ;; *) bin=./$bin ;; esac
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
    echo "$prog: '$1' is not an executable file" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
man=${AZB_MAN:-$here/azbprobe.1}
comp=${AZB_COMPLETION:-$here/azbprobe.bash-completion}
for f in "$man" "$comp"; do
    [ -r "$f" ] || { echo "$prog: cannot read $f" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-options.XXXXXX")
trap '[ -n "${AZB_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

if ! "$bin" --help </dev/null >"$tmp/help" 2>"$tmp/help.err"; then
    echo "$prog: '$bin --help' failed:" >&2
    cat "$tmp/help.err" >&2
    exit 2
fi

# --help option lines: "  -v, --verbose   text" or "      --region NAME   text". The left
# column ends at the first run of two spaces; when it fills its width (one space before the
# text), an argument name is the all-capitals word after the option.
# Output: one "signature" per line, e.g. "-v, --verbose" or "--dns-server IP[:PORT]".
awk '
/^[ \t]+-/ {
    line = $0
    sub(/^[ \t]+/, "", line)
    if (match(line, /  +/)) {
        left = substr(line, 1, RSTART - 1)
    } else {
        n = split(line, w, " ")
        i = 1
        left = ""
        if (w[1] ~ /^-[^-],$/) { left = w[1] " "; i = 2 }
        left = left w[i]
        if (i < n && w[i + 1] ~ /^[A-Z][][A-Z0-9_:|.,=-]*$/) left = left " " w[i + 1]
    }
    if (left ~ /(^|, )--[A-Za-z0-9]/) print left
}' "$tmp/help" >"$tmp/help.sig"

# The man page: the tag line after each .TP in the OPTIONS section, with the macro name,
# quotes, font escapes and "\-" removed ("\.BI \-\-region " NAME"" -> "--region NAME").
awk '
/^\.SH/ { inopt = ($0 ~ /^\.SH[ \t]+"?OPTIONS"?[ \t]*$/); next }
!inopt { next }
/^\.TP/ { tag = 1; next }
tag {
    tag = 0
    line = $0
    if (line !~ /^\.(B|I|BI|IB|BR|RB|IR|RI)[ \t]/) next
    sub(/^\.[A-Z]+[ \t]+/, "", line)
    out = ""
    # roff arguments: "quoted strings" or words, joined without spaces (font alternation).
    while (line != "") {
        if (substr(line, 1, 1) == "\"") {
            rest = substr(line, 2)
            q = index(rest, "\"")
            if (q == 0) q = length(rest) + 1
            out = out substr(rest, 1, q - 1)
            line = substr(rest, q + 1)
        } else {
            if (match(line, /[ \t]/)) {
                out = out substr(line, 1, RSTART - 1)
                line = substr(line, RSTART)
            } else {
                out = out line
                line = ""
            }
        }
        sub(/^[ \t]+/, "", line)
    }
    gsub(/\\f(\[[^]]*\]|\(..|.)/, "", out)
    gsub(/\\-/, "-", out)
    gsub(/\\&/, "", out)
    gsub(/\\%/, "", out)
    print out
}' "$man" >"$tmp/man.sig"

# Long option names out of signatures, and out of free text (man page, completion).
longs() {
    awk '{
        s = $0
        while (match(s, /--[A-Za-z0-9][A-Za-z0-9-]*/)) {
            print substr(s, RSTART + 2, RLENGTH - 2)
            s = substr(s, RSTART + RLENGTH)
        }
    }' | LC_ALL=C sort -u
}

longs <"$tmp/help.sig" >"$tmp/help.opts"
longs <"$tmp/man.sig" >"$tmp/man.opts"
sed 's/\\-/-/g' "$man" | grep -v '^\.\\"' | longs >"$tmp/man.all"
grep -v '^[ \t]*#' "$comp" | longs >"$tmp/comp.opts"

if [ ! -s "$tmp/help.opts" ]; then
    echo "$prog: found no long options in '$bin --help'" >&2
    exit 2
fi

fail=0
mismatch() { echo "$prog: $*" >&2; fail=1; }

# In --help but missing from the man page's OPTIONS or from the completion.
for o in $(LC_ALL=C comm -23 "$tmp/help.opts" "$tmp/man.opts"); do
    mismatch "--$o: in '$bin --help' but not in the OPTIONS section of $man"
done
for o in $(LC_ALL=C comm -23 "$tmp/help.opts" "$tmp/comp.opts"); do
    mismatch "--$o: in '$bin --help' but not in $comp"
done
# Documented or completed but unknown to the binary.
for o in $(LC_ALL=C comm -13 "$tmp/help.opts" "$tmp/man.opts"); do
    mismatch "--$o: in the OPTIONS section of $man but not in '$bin --help'"
done
for o in $(LC_ALL=C comm -13 "$tmp/help.opts" "$tmp/man.all" | LC_ALL=C comm -23 - "$tmp/man.opts"); do
    mismatch "--$o: mentioned in $man but not in '$bin --help'"
done
for o in $(LC_ALL=C comm -13 "$tmp/help.opts" "$tmp/comp.opts"); do
    mismatch "--$o: in $comp but not in '$bin --help'"
done

# Same short option and argument name, for the options both sides list.
while IFS= read -r sig; do
    o=$(printf '%s\n' "$sig" | longs)
    m=$(awk -v o="$o" '{ s = $0; if (match(s, "--" o "( |$)")) print }' "$tmp/man.sig")
    [ -n "$m" ] || continue
    [ "$m" = "$sig" ] || mismatch "--$o: --help shows '$sig' but $man shows '$m'"
done <"$tmp/help.sig"

if [ "$fail" -eq 0 ]; then
    echo "$prog: $(wc -l <"$tmp/help.opts" | tr -d ' ') options agree: --help, $(basename "$man"), $(basename "$comp")"
fi
exit "$fail"
