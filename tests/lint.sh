#!/bin/sh
# House rules the compiler does not enforce: no banned string functions, no wall clock for
# durations, no commented-out code markers. Prints each offence; exits 1 if any.
set -u
cd "$(dirname "$0")/.."
fail=0
src=$(ls probe/*.c probe/*.h probe/diag/*.c probe/diag/*.h probe/render/*.c probe/render/*.h resolvers/*.c resolvers/*.h targets/*.c targets/*.h)
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)\s*\(' $src; then
    echo "lint: banned function (use snprintf, strtol, ...)"; fail=1
fi
if grep -nE 'CLOCK_REALTIME|gettimeofday' $src; then
    echo "lint: durations come from CLOCK_MONOTONIC only"; fail=1
fi
if grep -nE '^\s*#\s*if\s+0' $src; then
    echo "lint: no #if 0 blocks"; fail=1
fi
[ $fail = 0 ] && echo "lint: ok ($(echo $src | wc -w) files)"
exit $fail
