#!/bin/sh
# build-deb.sh [--lintian] [OUTDIR]: build the azbprobe .deb from this source tree.
# dpkg-buildpackage needs debian/ at the source root, so this copies the tree (the files git
# knows about plus untracked, not-ignored ones; without git, everything but build products) to a
# temporary directory, puts packaging/debian there as debian/, runs
# "dpkg-buildpackage -us -uc -b" and copies the .deb files to OUTDIR (default ./dist).
# --lintian: also run "lintian -I --pedantic" on the result (its findings do not fail the build).
# DEB_BUILD_OPTIONS is passed through (for example nocheck, or parallel=4).
# Needs: dpkg-dev, debhelper and the Build-Depends of packaging/debian/control.
set -eu

prog=build-deb.sh
lintian=false
while [ $# -gt 0 ]; do
    case $1 in
        --lintian) lintian=true; shift ;;
        -h | --help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) echo "$prog: unknown option '$1'" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -le 1 ] || { echo "usage: $prog [--lintian] [OUTDIR]" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$top/packaging/debian/control" ] || { echo "$prog: no packaging/debian in $top" >&2; exit 2; }
for tool in dpkg-buildpackage dpkg-parsechangelog dpkg-checkbuilddeps; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "$prog: $tool not found (apt-get install dpkg-dev debhelper)" >&2; exit 2; }
done

mkdir -p "${1:-./dist}"
out=$(cd "${1:-./dist}" && pwd)
version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)

work=$(mktemp -d "${TMPDIR:-/tmp}/azbprobe-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' HUP INT TERM
src=$work/azbprobe-$version
mkdir "$src"

# The output directory, when it lies inside the tree, is not copied.
case $out/ in
    "$top"/*) skip=${out#"$top"/}/ ;;
    *) skip= ;;
esac

cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    [ "$(git rev-parse --show-toplevel)" = "$(pwd -P)" ]; then
    # Tracked and untracked-but-not-ignored files that exist now (not build/, not the binary).
    git ls-files --cached --others --exclude-standard |
        while IFS= read -r f; do
            [ -f "$f" ] || [ -L "$f" ] || continue
            case $f in debian/* | dist/*) continue ;; esac
            if [ -n "$skip" ]; then case $f in "$skip"*) continue ;; esac; fi
            printf '%s\n' "$f"
        done >"$work/files"
    tar -cf - --verbatim-files-from -T "$work/files" | tar -xf - -C "$src"
else
    tar -cf - --exclude=./.git --exclude=./build --exclude='./build-*' --exclude=./azbprobe \
        --exclude=./debian --exclude=./dist ${skip:+--exclude="./${skip%/}"} \
        --exclude='*.o' --exclude='*.d' . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -R "$top/packaging/debian" "$src/debian"

cd "$src"
dpkg-checkbuilddeps
dpkg-buildpackage -us -uc -b

cd "$work"
set -- ./*.deb
[ -e "$1" ] || { echo "$prog: dpkg-buildpackage produced no .deb" >&2; exit 1; }
if $lintian; then
    if command -v lintian >/dev/null 2>&1; then
        echo "== lintian -I --pedantic"
        lintian -I --pedantic ./*.changes || echo "$prog: lintian exited with status $?" >&2
    else
        echo "$prog: lintian not installed; skipped" >&2
    fi
fi
cp "$@" "$out"/
for f in "$@"; do echo "$out/${f#./}"; done
