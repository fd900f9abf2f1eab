#!/bin/sh
# Command-line behaviour of the azbprobe binary: usage errors, --help against the option table in
# probe/cli.c, README.md against the same table, --version, --list-regions.
# Usage: sh tests/cli_test.sh PATH-TO-AZBPROBE
# No network traffic: no invocation here gets as far as probing. As a safety net every invocation
# also points all endpoints at the loopback address and is run under a time limit.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH-TO-AZBPROBE" >&2
    exit 2
fi
bin=$1
srcdir=$(cd "$(dirname "$0")/.." && pwd)
clisrc=$srcdir/probe/cli.c

tmp=$(mktemp -d "${TMPDIR:-/tmp}/azbprobe-cli-test.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' HUP INT TERM
out=$tmp/stdout
err=$tmp/stderr

failures=0
checks=0
pass() { checks=$((checks + 1)); echo "ok - $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL - $*"; }

if [ ! -x "$bin" ]; then
    echo "FAIL - $bin is not an executable"
    exit 1
fi
if [ ! -r "$clisrc" ]; then
    echo "FAIL - cannot read $clisrc"
    exit 1
fi

# Loopback only, short timeouts: appended after the arguments under test, so a usage error
# earlier on the command line still comes first.
safe="--wireserver 127.0.0.1 --imds-endpoint http://127.0.0.1:9 --dns-server 127.0.0.1:9 --timeout 0.2 --quiet"

if command -v timeout >/dev/null 2>&1; then
    limit="timeout 20"
else
    limit=""
fi

# run ARGS...: run the binary; sets $rc, output in $out and $err.
run() {
    # shellcheck disable=SC2086
    $limit "$bin" "$@" $safe >"$out" 2>"$err" </dev/null
    rc=$?
}

lines() { wc -l <"$1" | tr -d ' '; }

# usage_error VALUE ARGS...: exit 2, nothing on stdout, one line on stderr naming 'VALUE'.
usage_error() {
    value=$1
    shift
    run "$@"
    what="azbprobe $*"
    if [ "$rc" -eq 2 ]; then pass "$what: exit status 2"; else fail "$what: exit status $rc, want 2"; fi
    if [ ! -s "$out" ]; then pass "$what: stdout empty"; else fail "$what: stdout not empty: $(head -c 200 "$out")"; fi
    n=$(lines "$err")
    if [ "$n" -eq 1 ]; then pass "$what: one line on stderr"; else fail "$what: $n lines on stderr"; fi
    if grep -qF -- "'$value'" "$err"; then
        pass "$what: stderr names '$value'"
    else
        fail "$what: stderr does not name '$value': $(head -c 300 "$err")"
    fi
}

usage_error 0 --timeout 0
usage_error abc --timeout abc
usage_error 70000 --ports 70000
usage_error atlantis --region atlantis
usage_error /nonexistent --root /nonexistent
usage_error --bogus --bogus
usage_error xml --format xml
usage_error /nonexistent --cacert /nonexistent

# The long options of the option table: lines like {"region", OPT_REGION, "NAME", "..."},
opts=$(sed -n 's/^[[:space:]]*{[[:space:]]*"\([a-z][a-z0-9-]*\)",[[:space:]]*OPT_[A-Z_]*,.*/\1/p' "$clisrc")
nopts=$(printf '%s\n' "$opts" | grep -c .)
if [ "$nopts" -ge 10 ]; then
    pass "found $nopts long options in probe/cli.c"
else
    fail "found only $nopts long options in probe/cli.c (the table's format changed?)"
fi

run --help
if [ "$rc" -eq 0 ]; then pass "--help: exit status 0"; else fail "--help: exit status $rc"; fi
if [ ! -s "$err" ]; then pass "--help: stderr empty"; else fail "--help: stderr: $(head -c 200 "$err")"; fi
for o in $opts; do
    if grep -qE -- "--$o([^a-z0-9-]|\$)" "$out"; then
        pass "--help lists --$o"
    else
        fail "--help does not list --$o"
    fi
done

readme=$srcdir/README.md
if [ -f "$readme" ]; then
    for o in $opts; do
        if grep -qE -- "--$o([^a-z0-9-]|\$)" "$readme"; then
            pass "README.md mentions --$o"
        else
            fail "README.md does not mention --$o"
        fi
    done
else
    echo "SKIP - README.md is missing: not checking that it mentions every option"
fi

version=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' "$srcdir/Makefile" | head -n 1)
run --version
if [ "$rc" -eq 0 ]; then pass "--version: exit status 0"; else fail "--version: exit status $rc"; fi
if [ -n "$version" ]; then
    if head -n 1 "$out" | grep -qF "azbprobe $version"; then
        pass "--version prints azbprobe $version"
    else
        fail "--version prints '$(head -n 1 "$out")', want azbprobe $version"
    fi
else
    fail "cannot read VERSION from the Makefile"
fi

run --list-regions
if [ "$rc" -eq 0 ]; then pass "--list-regions: exit status 0"; else fail "--list-regions: exit status $rc"; fi
n=$(awk '/^$/ { exit } { n++ } END { print n + 0 }' "$out")
if [ "$n" -eq 88 ]; then pass "--list-regions: 88 lines of regions"; else fail "--list-regions: $n region lines, want 88 (header + 87)"; fi
if grep -q 'storage core.usgovcloudapi.net, backup backup.windowsazure.us' "$out"; then
    pass "--list-regions lists the clouds' suffixes"
else
    fail "--list-regions: no US Government storage and backup suffixes"
fi
wide=$(awk 'length($0) > 100 { n++ } END { print n + 0 }' "$out")
if [ "$wide" -eq 0 ]; then pass "--list-regions: no line over 100 columns"; else fail "--list-regions: $wide lines over 100 columns"; fi
if grep -qw northeurope "$out"; then pass "--list-regions lists northeurope"; else fail "--list-regions does not list northeurope"; fi
if grep -w northeurope "$out" | grep -qw ne; then
    pass "--list-regions gives northeurope the geo code ne"
else
    fail "--list-regions: no geo code ne on the northeurope line"
fi

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
