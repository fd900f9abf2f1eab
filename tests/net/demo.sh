#!/bin/sh
# Demo for newcomers: build the simulated Azure network, block storage port 8443 in the
# "NSG", run azbprobe inside the simulated VM and print its text report, then tear down.
#
#   sh tests/net/demo.sh ./azbprobe        (as root; `make demo` does this)
#
# Exit 0 when a report was produced (azbprobe exit 0 or 1), non-zero otherwise.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 1 ]; then
    echo "usage: demo.sh AZBPROBE" >&2
    exit 2
fi
case "$1" in /*) AZBPROBE=$1 ;; *) AZBPROBE=$(pwd)/$1 ;; esac
if [ ! -x "$AZBPROBE" ]; then
    echo "demo: $AZBPROBE is not an executable (run make first)" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "demo: needs root (it builds network namespaces)" >&2
    exit 2
fi

STATE=$(mktemp -d /tmp/azbp-demo.XXXXXX) || exit 1

# Tear down on every exit path; the signal traps turn signals into an exit so EXIT runs once.
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    sh "$HERE/rig.sh" down "$STATE" 2>/dev/null
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE   # a closed pipe (| head) must still tear the rig down

echo "== Building the simulated network (namespaces, DNS, storage, WireServer, IMDS)..." >&2
sh "$HERE/rig.sh" up "$STATE" || exit 1

# Like an NSG rule that forgot the 8443 port: storage answers on 443 only.
echo "== NSG: dropping TCP 8443 to the storage account (203.0.113.10)" >&2
sh "$HERE/rig.sh" nsg "$STATE" 'ip daddr 203.0.113.10 tcp dport 8443 counter drop' || exit 1

# This host runs no guest agent: the VM's files come from a healthy guest tree (--root).
/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import test_integration as t; t.healthy_guest(sys.argv[2])' \
    "$HERE" "$STATE/guest" || exit 1

echo "== Running: azbprobe --region northeurope --target st1.blob.core.windows.net --cacert ca.pem --timeout 2 --root guest" >&2
echo >&2
sh "$HERE/rig.sh" vm "$STATE" "$AZBPROBE" --region northeurope --target st1.blob.core.windows.net \
    --cacert "$STATE/ca.pem" --timeout 2 --root "$STATE/guest" > "$STATE/report.txt"
rc=$?
cat "$STATE/report.txt"
echo >&2
case $rc in
    0|1)
        if [ -s "$STATE/report.txt" ]; then
            echo "== azbprobe exit code $rc (0 = required checks passed, 1 = a required check failed)" >&2
            exit 0
        fi
        echo "demo: azbprobe exited $rc but printed no report" >&2
        exit 1 ;;
    *)
        echo "demo: azbprobe failed with exit code $rc" >&2
        exit 1 ;;
esac
