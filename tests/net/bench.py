#!/usr/bin/python3
"""make bench: how long azbprobe takes and how much memory it needs, in the simulated network.

Wall time is measured around the whole process (as a user feels it), peak RSS with wait4().
Scenarios: one healthy storage target; 20 storage targets whose addresses are all silently
dropped (the bound the engine promises: about one --timeout, not one per target).
Run as root from the project root: /usr/bin/python3 tests/net/bench.py [RUNS]
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_integration as ti  # noqa: E402  (the rig and its addresses)


def measure(args, runs):
    walls, rss = [], []
    for _ in range(runs):
        cmd = ["ip", "netns", "exec", ti.Rig.vm_ns, ti.AZBPROBE] + args
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=ti.CLEAN_ENV)
        _, status, usage = os.wait4(p.pid, 0)
        walls.append(time.monotonic() - start)
        rss.append(usage.ru_maxrss / 1024.0)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            raise SystemExit("azbprobe exited %d: %s" % (code, " ".join(cmd)))
    return walls, rss


def main():
    if os.geteuid() != 0:
        raise SystemExit("make bench needs root (it builds network namespaces)")
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    base = ["--region", "northeurope", "--format", "json", "--timeout", "2", "--cacert"]
    ti.Rig.adopt_orphans()
    ti.Rig.up()
    try:
        base += [ti.Rig.ca, "--root", ti.Rig.guest_root]
        blackholed = base + [a for h in ti.BLACKHOLES for a in ("--target", h)]
        scenarios = [
            ("1 healthy target, ports 443+8443", base + ["--target", ti.ST1]),
            ("20 blackholed targets x 2 ports, --timeout 2", blackholed),
        ]
        print("%-48s %8s %8s %8s %10s" % ("scenario (%d runs)" % runs, "min s", "median s", "max s", "peak RSS"))
        for name, args in scenarios:
            walls, rss = measure(args, runs)
            print("%-48s %8.2f %8.2f %8.2f %7.1f MB" % (name, min(walls), statistics.median(walls),
                                                       max(walls), max(rss)))
    finally:
        ti.Rig.down()


if __name__ == "__main__":
    main()
