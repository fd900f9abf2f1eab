#!/usr/bin/python3
"""DHCP option 245, route and guest-agent integration tests for azbprobe (tests/net/rig.sh).

Run from the project root, as root:
    /usr/bin/python3 tests/net/test_dhcp.py -v                    # everything
    /usr/bin/python3 tests/net/test_dhcp.py -v DhcpRigSelfTest    # the rig's DHCP server and capture alone
The binary is ./azbprobe unless AZBPROBE names another one; the probe tests are skipped when it
does not exist. AZBP_KEEP_STATE=1 keeps the state dir (dnsmasq-dhcp.log has every DHCP exchange).

The rig, its helpers and its addresses come from test_integration.py (imported as a module, like
test_proxy.py does); this module builds its own rig (setUpModule) and tears it down on every exit
path (tearDownModule, atexit, SIGTERM/SIGHUP: installed by test_integration.setUpModule). `rig.sh
down` also stops the DHCP server and any capture.

The DHCP server (`rig.sh dhcp STATE on [ADDR|none]`) is off unless a test turns it on; every test
that does turns it off again (addCleanup), as it stops its captures, removes its routes and
addresses, and deletes its fixture root. Probe tests assert on the JSON report, plus, for the
packet-discipline tests, on the DHCP messages of a capture on az0 (parsed by dhcpc.py).

Fixture roots (--root, in STATE/fixtures/) always hold etc/resolv.conf (nameserver 198.51.100.1),
because the probe reads resolv.conf from the root too. The route tests run without --root: with it
the probe reads ROOT/proc/net/route and does not ask the kernel, and blackhole routes and source
addresses only show in the kernel's answer.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ in the work tree
import test_integration as ti  # noqa: E402  (the rig, its helpers and its addresses)
import dhcpc  # noqa: E402  (DHCP packets and pcap files)

Rig = ti.Rig
PROBE_TIMEOUT = ti.PROBE_TIMEOUT
RUN_BOUND = 3 * PROBE_TIMEOUT + 2     # seconds: a whole probe run, whatever happens
ST1 = ti.ST1
VM_IP = ti.VM_IP
WIRESERVER = ti.WIRESERVER
IMDS = ti.IMDS
CUSTOM_DNS = ti.CUSTOM_DNS

# The rig's DHCP side (keep in sync with rig.sh).
VM_IF = "vm0"
VM_MAC = "00:0d:3a:4b:5c:6d"
AZ_MAC = "12:34:56:78:9a:bc"          # az0: the DHCP server's (and gateway's) MAC
DHCP_SERVER = "198.51.100.1"
POOL = ("198.51.100.100", "198.51.100.150")
LEASE_TIME = 3600
DOMAIN = "internal.cloudapp.net"
OTHER_WS = "203.0.113.10"             # a live or lease 245 that differs from 168.63.129.16
OTHER_WS_HEX = "cb00710a"
SECOND_IP = "198.51.100.11"           # secondary address for the wrong-source route

SRC_CLI = "--wireserver"
SRC_LIVE = "DHCP option 245 (live)"
SRC_LEASE = "DHCP option 245 (lease file)"
SRC_DEFAULT = "default"
SOURCES = {SRC_CLI, SRC_LIVE, SRC_LEASE, SRC_DEFAULT}
LIVE_EVIDENCE = ("interface", "address", "server", "offered_address", "router", "dns", "lease_time",
                 "tries", "xid")
NEVER_SENT = {"REQUEST", "RELEASE", "DECLINE", "INFORM"}
NOBODY = 65534
UNPRIVILEGED = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
                "--inh-caps=-all"]

DATA = os.path.join(HERE, "data")
DHCLIENT_LEASES = os.path.join(DATA, "dhcp.leases")        # WALinuxAgent tests/data, unchanged
NETWORKD_LEASE = os.path.join(DATA, "networkd-lease-2")    # idem


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("integration tests need root (network namespaces)")
    missing = [t for t in ("dnsmasq", "tcpdump", "ss", "setpriv") if not shutil.which(t)]
    if missing:
        raise unittest.SkipTest("missing tools: %s" % ", ".join(missing))
    ti.setUpModule()          # Rig.up, atexit and signal handlers


def tearDownModule():
    ti.tearDownModule()


# ------------------------------------------------------------------ helpers

def ip2int(a):
    return int.from_bytes(bytes(int(x) for x in a.split(".")), "big")


def in_pool(a):
    try:
        return ip2int(POOL[0]) <= ip2int(a) <= ip2int(POOL[1])
    except ValueError:
        return False


def pid_alive(pid):
    """True while pid runs and is not a zombie."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return not re.search(r"^State:\s*Z", f.read(), re.M)
    except (FileNotFoundError, ProcessLookupError):
        return False


def read_pid(name, state=None):
    try:
        with open(os.path.join(state or Rig.state, name)) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def vm_ifindex():
    return ti.vm("cat", "/sys/class/net/%s/ifindex" % VM_IF).stdout.strip()


def discover(*extra, timeout=3):
    """One DISCOVER from vm0 (dhcpc.py in the VM namespace); its JSON result."""
    p = ti.vm("/usr/bin/python3", os.path.join(HERE, "dhcpc.py"), "discover", VM_IF,
              "--timeout", str(timeout), *extra, timeout=4 * timeout + 10)
    if p.returncode != 0:
        raise AssertionError("dhcpc.py failed (rc %d): %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


def replies(res, kind="replies"):
    return [r for r in res.get(kind, []) if r["msg_type"] in ("OFFER", "ACK", "NAK")]


class Capture:
    """rig.sh capture around a block; .packets: the DHCP messages, .requests: BOOTREQUESTs (op 1,
    i.e. what the VM sent: dnsmasq only ever sends replies)."""

    def __init__(self, name):
        self.path = os.path.join(Rig.state, "%s-%d.pcap" % (name, time.monotonic_ns()))
        self.packets = None

    def start(self):
        r = Rig.sh("capture", Rig.state, "start", self.path)
        if r.returncode != 0:
            raise AssertionError("rig.sh capture start failed: %s" % r.stderr)
        return self

    def stop(self):
        if self.packets is None:
            Rig.sh("capture", Rig.state, "stop")
            self.packets = dhcpc.dhcp_packets(self.path)
        return self

    @property
    def requests(self):
        return [p for p in self.packets if p["op"] == 1]

    def types(self, packets):
        return [p["msg_type"] for p in packets]

    def describe(self):
        return "\n".join("%.3f %s -> %s %s xid=%08x op=%d %s" % (
            p["ts"], p["eth_src"], p["eth_dst"], p["msg_type"], p["xid"], p["op"],
            ",".join(str(k) for k in sorted(p["options"]))) for p in self.packets or [])


class Fixture:
    """A --root directory: etc/resolv.conf plus whatever a test writes."""

    def __init__(self, parent):
        os.makedirs(parent, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="root-", dir=parent)
        self.write("etc/resolv.conf", "nameserver %s\nsearch %s\n" % (CUSTOM_DNS, DOMAIN))

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, content):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        return p

    def copy(self, src, rel, edit=None):
        with open(src) as f:
            text = f.read()
        return self.write(rel, edit(text) if edit else text)

    def open_to_all(self):
        """Readable by anyone (for the unprivileged run): dirs 0755, files 0644."""
        for root, dirs, files in os.walk(self.root):
            os.chmod(root, 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)


def lease_blocks(text):
    """The `lease { ... }` blocks of an ISC dhclient lease file, in order."""
    return re.findall(r"lease \{\n.*?\n\}\n", text, re.S)


def unexpired_only(text, value=None):
    """The first (expire never) lease of dhcp.leases, with option 245 optionally replaced."""
    block = [b for b in lease_blocks(text) if "expire 0 never;" in b][0]
    if value is not None:
        block = block.replace("option unknown-245 a8:3f:81:10;", "option unknown-245 %s;" % value)
    return block


def expired_only(text):
    return "".join(b for b in lease_blocks(text) if "expire 4 2015/" in b)


# ------------------------------------------------------------------ base classes

class DhcpCase(ti.RigCase):
    """Per-test DHCP server and captures, undone when the test ends."""

    def dhcp(self, addr=None):
        args = ["dhcp", Rig.state, "on"] + ([addr] if addr else [])
        self.addCleanup(self.dhcp_off)
        r = Rig.sh(*args)
        self.assertEqual(r.returncode, 0, "rig.sh %s failed: %s" % (" ".join(args), r.stderr))

    @staticmethod
    def dhcp_off():
        r = Rig.sh("dhcp", Rig.state, "off")
        if r.returncode != 0:
            raise RuntimeError("rig.sh dhcp off failed: %s" % r.stderr)

    def capture(self, name):
        cap = Capture(name)
        self.addCleanup(cap.stop)
        return cap.start()

    def vm_ip(self, *args):
        """ip in the VM namespace; asserts success."""
        p = ti.vm("ip", *args)
        self.assertEqual(p.returncode, 0, "ip %s: %s" % (" ".join(args), p.stderr))
        return p.stdout

    def vm_ip_undo(self, *args):
        p = ti.vm("ip", *args)
        if p.returncode != 0:
            raise RuntimeError("cleanup: ip %s failed: %s" % (" ".join(args), p.stderr))


@unittest.skipUnless(os.access(ti.AZBPROBE, os.X_OK), "no azbprobe binary at %s (set AZBPROBE)" % ti.AZBPROBE)
class DhcpProbeCase(ti.ProbeCase, DhcpCase):
    """azbprobe in the VM namespace, with a fixture --root (unless root=False)."""

    def setUp(self):
        super().setUp()
        self.dhcp_off()                       # a test starts without a DHCP server
        self.fx = self.new_fixture()

    def new_fixture(self):
        fx = Fixture(os.path.join(Rig.state, "fixtures"))
        self.addCleanup(shutil.rmtree, fx.root, True)
        return fx

    def run_probe(self, *args, root=True, fx=None, interface=VM_IF, user=None, json_out=True):
        """azbprobe with --root (self.fx, or fx; none when root=False) and --interface."""
        cmd = [ti.AZBPROBE, "--format", "json", "--cacert", Rig.ca, "--timeout", str(PROBE_TIMEOUT),
               "--region", "northeurope", "--target", ST1]
        if root:
            cmd += ["--root", (fx or self.fx).root]
        if interface:
            cmd += ["--interface", interface]
        cmd += list(args)
        run = self.execute(cmd, prefix=user or (), json_out=json_out)
        if json_out:
            self.check_dhcp_shape(run)
        return run

    def check_dhcp_shape(self, run):
        """The DHCP, route and guest additions to azbprobe.report/1, whatever the scenario."""
        r = run.report
        ctx = run.describe()
        self.assertIsInstance(r.get("wireserver"), str, ctx)
        self.assertIn(r.get("wireserver_source"), SOURCES, ctx)
        for cid in ("dhcp.live245", "dhcp.lease245", "route.wireserver", "route.imds"):
            self.assertEqual(len(self.find(run, cid)), 1, "want exactly one %s\n%s" % (cid, ctx))
        for cid in ("guest.dhcp_enabled", "agent.config"):
            self.assertLessEqual(len(self.find(run, cid)), 1, "%s more than once\n%s" % (cid, ctx))
        live = self.one(run, "dhcp.live245")
        if live["outcome"] == "ok":
            for k in LIVE_EVIDENCE:
                self.assertTrue(live["evidence"].get(k), "dhcp.live245 ok without evidence %s: %s" % (k, live))
        # The host path is probed at the chosen address.
        ws = [ti.norm(c.get("target")) for c in self.find(run, "wireserver.http")]
        self.assertIn(r["wireserver"], ws, ctx)

    def live(self, run):
        return self.one(run, "dhcp.live245")

    def lease(self, run):
        return self.one(run, "dhcp.lease245")

    def assertSource(self, run, source, address):
        self.assertEqual(run.report["wireserver_source"], source, run.describe())
        self.assertEqual(run.report["wireserver"], address, run.describe())

    def assertFile(self, c, rel):
        f = c["evidence"].get("file", "")
        self.assertTrue(f.endswith("/" + rel), "evidence file %r is not %s: %s" % (f, rel, c))


# ------------------------------------------------------------------ rig self-test

class DhcpRigSelfTest(DhcpCase):
    """The rig's DHCP server and capture behave as documented, checked with dhcpc.py (raw frames
    from vm0, like azbprobe) and tcpdump; no azbprobe."""

    def offer(self, res):
        got = replies(res)
        self.assertEqual([r["msg_type"] for r in got], ["OFFER"], json.dumps(res, indent=1))
        return got[0]

    def test_offer_carries_245(self):
        self.dhcp()
        res = discover()
        o = self.offer(res)
        msg = json.dumps(o, indent=1)
        self.assertEqual(o["options"].get("245"), "a83f8110", msg)
        self.assertEqual(o["options"].get("54"), "c6336401", msg)        # server 198.51.100.1
        self.assertEqual(o["options"].get("3"), "c6336401", msg)         # router
        self.assertEqual(o["options"].get("6"), "c6336401", msg)         # DNS
        self.assertEqual(o["options"].get("1"), "ffffff00", msg)
        self.assertEqual(o["options"].get("51"), "%08x" % LEASE_TIME, msg)
        self.assertEqual(bytes.fromhex(o["options"].get("15", "")).decode(), DOMAIN, msg)
        self.assertNotIn("55", o["options"], msg)
        self.assertTrue(in_pool(o["yiaddr"]), msg)
        self.assertEqual((o["chaddr"], o["xid"]), (VM_MAC, res["xid"]), msg)
        self.assertEqual((o["eth_src"], o["ip_src"], o["sport"]), (AZ_MAC, DHCP_SERVER, 67), msg)
        # Broadcast flag set (as azbprobe sends it): the OFFER is broadcast, at once (no-ping).
        self.assertEqual((o["eth_dst"], o["ip_dst"]), ("ff:ff:ff:ff:ff:ff", "255.255.255.255"), msg)
        self.assertLess(o["elapsed_ms"], 1000, msg)

    def test_unicast_offer_without_broadcast_flag(self):
        # Flags 0 (the agent's first try): dnsmasq unicasts to the offered address and vm0's MAC.
        self.dhcp()
        res = discover("--flags", "0")
        o = self.offer(res)
        self.assertEqual((o["eth_dst"], o["ip_dst"]), (VM_MAC, o["yiaddr"]), json.dumps(o, indent=1))
        self.assertEqual(o["options"].get("245"), "a83f8110")

    def test_other_address_and_idempotence(self):
        self.dhcp(OTHER_WS)
        pid = read_pid("dhcp.pid")
        self.assertEqual(self.offer(discover())["options"].get("245"), OTHER_WS_HEX)
        self.dhcp(OTHER_WS)                                    # same configuration: no restart
        self.assertEqual(read_pid("dhcp.pid"), pid)
        self.dhcp()                                            # another address: restarted
        self.assertNotEqual(read_pid("dhcp.pid"), pid)
        self.assertFalse(pid_alive(pid), "the old DHCP server still runs")
        self.assertEqual(self.offer(discover())["options"].get("245"), "a83f8110")

    def test_none_means_no_245(self):
        self.dhcp("none")
        res = discover("--request")
        self.assertNotIn("245", self.offer(res)["options"])
        # The ACK (what a client writes to its lease file) has none either.
        acks = [r for r in replies(res, "request_replies") if r["msg_type"] == "ACK"]
        self.assertEqual(len(acks), 1, json.dumps(res, indent=1))
        self.assertNotIn("245", acks[0]["options"])

    def test_full_exchange_leaves_vm0_alone(self):
        before = (self.vm_ip("-4", "-o", "addr", "show", "dev", VM_IF), self.vm_ip("route", "show"))
        self.dhcp()
        res = discover("--request")
        acks = [r for r in replies(res, "request_replies") if r["msg_type"] == "ACK"]
        self.assertEqual(len(acks), 1, json.dumps(res, indent=1))
        self.assertEqual(acks[0]["options"].get("245"), "a83f8110")
        self.assertEqual(res.get("released"), acks[0]["yiaddr"])
        after = (self.vm_ip("-4", "-o", "addr", "show", "dev", VM_IF), self.vm_ip("route", "show"))
        self.assertEqual(before, after, "a DHCP exchange changed vm0's address or routes")
        # The RELEASE reached dnsmasq: its lease file (in the state dir) forgets vm0.
        leases = os.path.join(Rig.state, "dnsmasq-dhcp.leases")
        deadline = time.monotonic() + 3
        while True:
            with open(leases) as f:
                text = f.read()
            if VM_MAC not in text or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertNotIn(VM_MAC, text)

    def test_off(self):
        self.dhcp()
        pid = read_pid("dhcp.pid")
        for _ in range(2):                                     # idempotent
            self.dhcp_off()
        self.assertFalse(pid_alive(pid))
        self.assertIsNone(read_pid("dhcp.pid"))
        self.assertEqual(replies(discover(timeout=1)), [])

    def test_bad_address(self):
        for addr in ("300.1.1.1", "168.63.129", "wireserver"):
            with self.subTest(addr=addr):
                r = Rig.sh("dhcp", Rig.state, "on", addr)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIsNone(read_pid("dhcp.pid"))

    def test_processes_stay_in_az(self):
        self.dhcp()
        cap = self.capture("ns")
        for name in ("dhcp.pid", "capture.pid"):
            with self.subTest(pid=name):
                pid = read_pid(name)
                self.assertTrue(pid and pid_alive(pid), name)
                p = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True)
                self.assertEqual(p.stdout.strip(), Rig.az_ns)
        cap.stop()
        self.assertIsNone(read_pid("capture.pid"))
        # The root namespace has no DHCP socket of ours (the rig's dnsmasq binds only in az).
        ss = subprocess.run(["ss", "-Hlunp", "sport = :67"], capture_output=True, text=True).stdout
        self.assertNotIn("pid=%d," % read_pid("dhcp.pid"), ss)

    def test_capture_records_exchange(self):
        self.dhcp()
        cap = self.capture("selftest")
        pid = read_pid("capture.pid")
        res = discover()
        cap.stop()
        self.assertFalse(pid_alive(pid), "tcpdump still runs after capture stop")
        Rig.sh("capture", Rig.state, "stop")                  # idempotent
        ctx = cap.describe()
        self.assertEqual(cap.types(cap.packets), ["DISCOVER", "OFFER"], ctx)
        d, o = cap.packets
        self.assertEqual((d["eth_src"], d["chaddr"], d["ip_src"], d["ip_dst"]),
                         (VM_MAC, VM_MAC, "0.0.0.0", "255.255.255.255"), ctx)
        self.assertEqual("%08x" % d["xid"], res["xid"], ctx)
        self.assertEqual(o["options"].get(245), bytes.fromhex("a83f8110"), ctx)
        self.assertEqual(o["eth_src"], AZ_MAC, ctx)

    def test_down_stops_dhcp_and_capture(self):
        # A second rig of its own, so this one's down can be tested.
        state = tempfile.mkdtemp(prefix="azbp-rig2-")
        self.addCleanup(shutil.rmtree, state, True)
        self.addCleanup(Rig.sh, "down", state)
        r = Rig.sh("up", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        for args in (("dhcp", state, "on"), ("capture", state, "start", os.path.join(state, "c.pcap"))):
            r = Rig.sh(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
        pids = [read_pid("dhcp.pid", state), read_pid("capture.pid", state)]
        self.assertTrue(all(p and pid_alive(p) for p in pids), pids)
        r = Rig.sh("down", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        for p in pids:
            self.assertFalse(pid_alive(p), "pid %d survived down" % p)
        Rig.reap()


# ------------------------------------------------------------------ the live probe (dhcp.live245)

class LiveOptionTest(DhcpProbeCase):

    def test_found_and_used(self):
        # Test 1: the DHCP server offers 245 = 168.63.129.16; the probe finds and uses it.
        self.dhcp()
        run = self.run_probe()
        c = self.assertCheck(run, "dhcp.live245", VM_IF, status="pass", outcome="ok")
        ev = c["evidence"]
        self.assertEqual(ev.get("address"), WIRESERVER, c)
        self.assertEqual(ev.get("interface"), VM_IF, c)
        self.assertEqual(ev.get("server"), DHCP_SERVER, c)
        self.assertTrue(in_pool(ev.get("offered_address", "")), c)
        self.assertEqual(ev.get("router"), DHCP_SERVER, c)
        self.assertIn(CUSTOM_DNS, re.split(r"[,\s]+", ev.get("dns", "")), c)
        self.assertEqual(ev.get("lease_time"), str(LEASE_TIME), c)
        self.assertEqual(ev.get("tries"), "1", c)
        self.assertRegex(ev.get("xid", ""), r"^(0x)?[0-9a-fA-F]{1,8}$", c)
        self.assertSource(run, SRC_LIVE, WIRESERVER)
        self.assertCheck(run, "wireserver.http", WIRESERVER, status="pass", outcome="ok")
        self.assertLess(run.elapsed, RUN_BOUND, run.describe())

    def test_default_interface(self):
        # Without --interface: the interface of the lowest-metric default route (vm0 here).
        self.dhcp()
        run = self.run_probe(interface=None)
        c = self.assertCheck(run, "dhcp.live245", VM_IF, outcome="ok")
        self.assertEqual(c["evidence"].get("interface"), VM_IF, c)

    def test_differs(self):
        # Test 2: a live 245 other than 168.63.129.16 becomes the WireServer address.
        self.dhcp(OTHER_WS)
        run = self.run_probe()
        c = self.assertCheck(run, "dhcp.live245", VM_IF, outcome="ok")
        self.assertEqual(c["evidence"].get("address"), OTHER_WS, c)
        self.assertSource(run, SRC_LIVE, OTHER_WS)
        targets = [ti.norm(c.get("target")) for c in run.report["checks"] if c["id"].startswith("wireserver.")]
        self.assertIn(OTHER_WS, targets, run.describe())

    def test_cli_wins_over_live(self):
        self.dhcp(OTHER_WS)
        run = self.run_probe("--wireserver", WIRESERVER)
        self.assertEqual(self.live(run)["evidence"].get("address"), OTHER_WS, self.live(run))
        self.assertSource(run, SRC_CLI, WIRESERVER)
        self.assertCheck(run, "wireserver.http", WIRESERVER, status="pass", outcome="ok")

    def test_no_245(self):
        # Test 3: an OFFER without option 245.
        self.dhcp("none")
        run = self.run_probe()
        c = self.assertCheck(run, "dhcp.live245", VM_IF, status="fail", outcome="no_245")
        self.assertRegex(c["summary"], r"(?i)extension", c)
        self.assertSource(run, SRC_DEFAULT, WIRESERVER)   # the fixture root has no lease either

    def test_no_offer(self):
        # Test 4: no DHCP server: no_offer, within the run bound, after waiting for the retry.
        run = self.run_probe()
        c = self.assertCheck(run, "dhcp.live245", VM_IF, outcome="no_offer")
        self.assertIn(c["status"], ("fail", "warn"), c)
        self.assertLess(run.elapsed, RUN_BOUND, run.describe())
        self.assertGreaterEqual(c["duration_ms"], PROBE_TIMEOUT * 1000 / 2 * 0.8, c)
        self.assertSource(run, SRC_DEFAULT, WIRESERVER)


class PacketDisciplineTest(DhcpProbeCase):
    """Test 5: what leaves the VM: DISCOVERs only, one (two when the first goes unanswered)."""

    def check_requests(self, cap, want):
        ctx = cap.describe()
        self.assertEqual(cap.types(cap.requests), ["DISCOVER"] * want, ctx)
        self.assertFalse(set(cap.types(cap.requests)) & NEVER_SENT, ctx)
        for p in cap.requests:
            self.assertEqual((p["eth_src"], p["chaddr"]), (VM_MAC, VM_MAC), ctx)
            self.assertEqual((p["sport"], p["dport"]), (68, 67), ctx)
        return cap.requests

    def test_one_discover_when_answered(self):
        self.dhcp()
        cap = self.capture("answered")
        run = self.run_probe()
        cap.stop()
        c = self.assertCheck(run, "dhcp.live245", VM_IF, outcome="ok")
        (d,) = self.check_requests(cap, 1)
        self.assertEqual(d["xid"], int(c["evidence"].get("xid", "-1"), 16), cap.describe())
        offers = [p for p in cap.packets if p["msg_type"] == "OFFER"]
        self.assertEqual(len(offers), 1, cap.describe())
        self.assertEqual(offers[0]["options"].get(245), bytes.fromhex("a83f8110"))

    def test_two_discovers_when_unanswered(self):
        cap = self.capture("unanswered")
        run = self.run_probe()
        cap.stop()
        self.assertCheck(run, "dhcp.live245", VM_IF, outcome="no_offer")
        first, second = self.check_requests(cap, 2)
        gap = second["ts"] - first["ts"]
        self.assertGreaterEqual(gap, PROBE_TIMEOUT / 2 * 0.8, cap.describe())
        self.assertLessEqual(gap, PROBE_TIMEOUT + 0.5, cap.describe())


class PrivilegeTest(DhcpProbeCase):
    """Test 6: as uid 65534 without capabilities the live probe is skipped, nothing is sent, and
    the run still completes."""

    def test_unprivileged(self):
        self.dhcp()
        # The unprivileged user must reach the fixture root and the CA (the state dir is 0700).
        mode = os.stat(Rig.state).st_mode
        os.chmod(Rig.state, stat.S_IMODE(mode) | 0o111)
        self.addCleanup(os.chmod, Rig.state, stat.S_IMODE(mode))
        os.chmod(os.path.dirname(self.fx.root), 0o755)
        self.fx.open_to_all()
        self.assertTrue(os.stat(Rig.ca).st_mode & 0o004, "ca.pem is not world-readable")
        cap = self.capture("nobody")
        run = self.run_probe(user=UNPRIVILEGED)
        cap.stop()
        c = self.assertCheck(run, "dhcp.live245", status="skip")
        self.assertRegex(c["summary"], r"sudo|CAP_NET_RAW", c)
        self.assertEqual(cap.requests, [], cap.describe())


class NoDhcpTest(DhcpProbeCase):

    def test_no_dhcp(self):
        # Test 7: --no-dhcp: skipped, and no DHCP packet leaves the VM (the server is up).
        self.dhcp()
        cap = self.capture("nodhcp")
        run = self.run_probe("--no-dhcp")
        cap.stop()
        self.assertCheck(run, "dhcp.live245", status="skip")
        self.assertEqual(cap.packets, [], cap.describe())
        self.assertSource(run, SRC_DEFAULT, WIRESERVER)


# ------------------------------------------------------------------ lease files (dhcp.lease245)

class LeaseFileTest(DhcpProbeCase):
    """Test 8: lease files under --root (formats from WALinuxAgent's tests/data). The live probe is
    off (--no-dhcp), so the lease decides the WireServer address."""

    def probe_leases(self, fx=None):
        return self.run_probe("--no-dhcp", fx=fx)

    def test_dhclient_unexpired(self):
        rel = "var/lib/dhcp/dhclient.eth0.leases"
        self.fx.copy(DHCLIENT_LEASES, rel)
        run = self.probe_leases()
        c = self.assertCheck(run, "dhcp.lease245", status="pass", outcome="ok")
        self.assertEqual(c["evidence"].get("address"), WIRESERVER, c)
        self.assertFile(c, rel)
        self.assertEqual(c["evidence"].get("interface"), "eth0", c)
        self.assertEqual(c["evidence"].get("expired"), "no", c)
        self.assertTrue(c["evidence"].get("format"), c)
        self.assertSource(run, SRC_LEASE, WIRESERVER)

    def test_dhclient_value_is_used(self):
        # Single-digit octets, as dhclient prints them: cb:0:71:a = 203.0.113.10.
        rel = "var/lib/dhcp/dhclient.eth0.leases"
        self.fx.copy(DHCLIENT_LEASES, rel, lambda t: unexpired_only(t, "cb:0:71:a"))
        run = self.probe_leases()
        c = self.assertCheck(run, "dhcp.lease245", outcome="ok")
        self.assertEqual(c["evidence"].get("address"), OTHER_WS, c)
        self.assertSource(run, SRC_LEASE, OTHER_WS)

    def test_other_dhclient_paths(self):
        for rel in ("var/lib/dhclient/dhclient-eth0.leases",            # RHEL 6
                    "var/lib/dhclient/dhclient--eth0.lease",            # RHEL 7+
                    "var/lib/NetworkManager/dhclient-5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03-eth0.lease"):
            with self.subTest(path=rel):
                fx = self.new_fixture()
                fx.copy(DHCLIENT_LEASES, rel)
                run = self.probe_leases(fx)
                c = self.assertCheck(run, "dhcp.lease245", outcome="ok")
                self.assertFile(c, rel)
                self.assertEqual(c["evidence"].get("address"), WIRESERVER, c)

    def test_expired_only(self):
        rel = "var/lib/dhcp/dhclient.eth0.leases"
        self.fx.copy(DHCLIENT_LEASES, rel, expired_only)
        run = self.probe_leases()
        c = self.lease(run)
        self.assertNotEqual(c["outcome"], "ok", c)
        self.assertNotEqual(c["status"], "pass", c)
        self.assertEqual(c["evidence"].get("expired"), "yes", c)

    def test_networkd(self):
        idx = vm_ifindex()
        self.assertRegex(idx, r"^\d+$")
        rel = "run/systemd/netif/leases/" + idx
        for label, edit, want in (
                ("sample (lower-case hex)", None, WIRESERVER),
                ("upper-case hex", lambda t: t.replace("OPTION_245=a83f8110", "OPTION_245=A83F8110"), WIRESERVER),
                ("another address", lambda t: t.replace("OPTION_245=a83f8110", "OPTION_245=CB00710A"), OTHER_WS)):
            with self.subTest(lease=label):
                self.fx.copy(NETWORKD_LEASE, rel, edit)
                run = self.probe_leases()
                c = self.assertCheck(run, "dhcp.lease245", outcome="ok")
                self.assertEqual(c["evidence"].get("address"), want, c)
                self.assertFile(c, rel)
                # By name, or by the file's index (the root may be another system's).
                self.assertRegex(c["evidence"].get("interface", ""), r"^(%s|(ifindex )?%s)$" % (VM_IF, idx), c)
                self.assertSource(run, SRC_LEASE, want)

    def test_wireserver_endpoint(self):
        rel = "var/lib/waagent/WireServerEndpoint"
        self.fx.write(rel, OTHER_WS)                       # the agent writes it without a newline
        run = self.probe_leases()
        c = self.assertCheck(run, "dhcp.lease245", outcome="ok")
        self.assertEqual(c["evidence"].get("address"), OTHER_WS, c)
        self.assertFile(c, rel)
        self.assertNotEqual(c["evidence"].get("expired"), "yes", c)
        self.assertSource(run, SRC_LEASE, OTHER_WS)

    def test_no_lease(self):
        # No lease file at all is normal where the agent asks DHCP itself: reported, not a warning.
        run = self.probe_leases()
        self.assertCheck(run, "dhcp.lease245", status="skip", outcome="skipped")
        self.assertSource(run, SRC_DEFAULT, WIRESERVER)

    def test_malformed(self):
        big = b"x" * (1 << 20)
        with open(DHCLIENT_LEASES, "rb") as f:
            sample = f.read()
        self.fx.write("var/lib/dhcp/dhclient.eth0.leases",
                      b"\x00\xff\xfe binary \x00\x01\x02\n" + big + b"\n"
                      b"lease {\n  interface \"eth\x00\xff0\";\n"
                      b"  option unknown-245 a8:3f:81;\n"                      # 3 bytes
                      b"  option unknown-245 a8:3f:81:10:20;\n"                # 5 bytes
                      b"  option unknown-245 zz:zz:zz:zz;\n"
                      b"  option unknown-245 a8:3f:81:" + big + b";\n"
                      b"  expire 9 9999/99/99 99:99:99;\n"
                      + sample[:700])                                          # cut mid-lease
        self.fx.write("var/lib/dhcp/dhclient6.eth0.leases", b"\xff" * 4096)
        self.fx.write("run/systemd/netif/leases/" + vm_ifindex(),
                      b"# This is private data. Do not parse.\nOPTION_245=ZZZZZZZZ\nOPTION_245=a83f81\n"
                      b"OPTION_245=" + big + b"\n\x00\x00\x00")
        self.fx.write("var/lib/waagent/WireServerEndpoint", b"168.63.129.16\x00\xff" + big)
        self.fx.write("var/lib/NetworkManager/internal-x-eth0.lease", b"\x00" * 100 + big)
        run = self.probe_leases()                    # run_probe: no crash, valid JSON, schema
        self.assertLess(run.elapsed, RUN_BOUND, run.describe())
        c = self.lease(run)
        self.assertNotEqual(c["outcome"], "ok", c)


# ------------------------------------------------------------------ guest configuration

NETPLAN_STATIC = """network:
  version: 2
  ethernets:
    eth0:
      match:
        macaddress: 00:0d:3a:4b:5c:6d
      set-name: eth0
      dhcp4: false
      addresses: [198.51.100.10/24]
      routes:
        - to: default
          via: 198.51.100.1
      nameservers:
        addresses: [168.63.129.16]
"""
NETPLAN_DHCP = """network:
  version: 2
  ethernets:
    eth0:
      match:
        macaddress: 00:0d:3a:4b:5c:6d
        driver: hv_netvsc
      set-name: eth0
      dhcp4: true
      dhcp4-overrides:
        route-metric: 100
      dhcp6: false
"""
STATIC_FILES = {   # other guest network configurations that pin the address
    "ifupdown": ("etc/network/interfaces",
                 "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n"
                 "    address 198.51.100.10/24\n    gateway 198.51.100.1\n"),
    "ifcfg": ("etc/sysconfig/network-scripts/ifcfg-eth0",
              'DEVICE=eth0\nONBOOT=yes\nBOOTPROTO=none\nIPADDR=198.51.100.10\nPREFIX=24\n'
              'GATEWAY=198.51.100.1\nTYPE=Ethernet\n'),
    "NetworkManager": ("etc/NetworkManager/system-connections/eth0.nmconnection",
                       "[connection]\nid=eth0\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\n"
                       "method=manual\naddress1=198.51.100.10/24,198.51.100.1\n"),
    "networkd": ("etc/systemd/network/10-eth0.network",
                 "[Match]\nName=eth0\n\n[Network]\nAddress=198.51.100.10/24\nGateway=198.51.100.1\n"),
}
DHCP_FILES = {
    "ifupdown": ("etc/network/interfaces", "auto eth0\niface eth0 inet dhcp\n"),
    "ifcfg": ("etc/sysconfig/network-scripts/ifcfg-eth0", "DEVICE=eth0\nONBOOT=yes\nBOOTPROTO=dhcp\n"),
}


class StaticIpTest(DhcpProbeCase):
    """Test 9: a static address in the guest's network configuration (Azure wants DHCP in the
    guest, static IPs set on the NIC in Azure)."""

    def assertStatic(self, run, rel):
        c = self.assertCheck(run, "guest.dhcp_enabled", status="fail", outcome="static_ip")
        self.assertFile(c, rel)
        self.assertRegex(c["evidence"].get("line", ""), r"^[1-9]\d*$", c)
        return c

    def test_netplan_static(self):
        rel = "etc/netplan/50-cloud-init.yaml"
        self.fx.write(rel, NETPLAN_STATIC)
        self.assertStatic(self.run_probe("--no-dhcp"), rel)

    def test_netplan_dhcp(self):
        self.fx.write("etc/netplan/50-cloud-init.yaml", NETPLAN_DHCP)
        self.assertCheck(self.run_probe("--no-dhcp"), "guest.dhcp_enabled", status="pass", outcome="ok")

    def test_other_formats_static(self):
        for kind, (rel, text) in STATIC_FILES.items():
            with self.subTest(kind=kind):
                fx = self.new_fixture()
                fx.write(rel, text)
                self.assertStatic(self.run_probe("--no-dhcp", fx=fx), rel)

    def test_other_formats_dhcp(self):
        for kind, (rel, text) in DHCP_FILES.items():
            with self.subTest(kind=kind):
                self.fx.write(rel, text)
                self.assertCheck(self.run_probe("--no-dhcp"), "guest.dhcp_enabled", outcome="ok")
                os.unlink(self.fx.path(rel))


class AgentConfigTest(DhcpProbeCase):
    """Test 10: Extensions.Enabled=n in waagent.conf disables every extension, VMSnapshot too."""

    HEAD = "# Microsoft Azure Linux Agent Configuration\nProvisioning.Agent=auto\nResourceDisk.Format=n\n"

    def test_extensions_disabled(self):
        self.fx.write("etc/waagent.conf", self.HEAD + "Extensions.Enabled=n\nOS.EnableFirewall=y\n")
        c = self.assertCheck(self.run_probe("--no-dhcp"), "agent.config", status="fail",
                             outcome="misconfigured")
        self.assertIn("GuestAgentSnapshotTaskStatusError", c["summary"] + " " + c["why"], c)

    def test_extensions_enabled(self):
        self.fx.write("etc/waagent.conf", self.HEAD + "Extensions.Enabled=y\nOS.EnableFirewall=y\n")
        self.assertCheck(self.run_probe("--no-dhcp"), "agent.config", outcome="ok")


# ------------------------------------------------------------------ routes

class RouteTest(DhcpProbeCase):
    """Test 11: the kernel's routes to the platform addresses, changed in the VM namespace (and
    restored by cleanup). No --root here (the kernel must be asked), and --wireserver pins the
    address so that no lease file of the host can move it."""

    def probe_routes(self):
        return self.run_probe("--no-dhcp", "--wireserver", WIRESERVER, root=False)

    def test_healthy(self):
        run = self.probe_routes()
        for cid, dst in (("route.wireserver", WIRESERVER), ("route.imds", IMDS)):
            with self.subTest(check=cid):
                c = self.assertCheck(run, cid, dst, status="pass", outcome="ok")
                ev = c["evidence"]
                self.assertEqual(ev.get("interface"), VM_IF, c)
                self.assertEqual(ev.get("gateway"), DHCP_SERVER, c)
                self.assertEqual(ev.get("source"), VM_IP, c)
                self.assertTrue(ev.get("route"), c)

    def test_blackhole(self):
        self.vm_ip("route", "add", "blackhole", WIRESERVER + "/32")
        self.addCleanup(self.vm_ip_undo, "route", "del", "blackhole", WIRESERVER + "/32")
        run = self.probe_routes()
        self.assertCheck(run, "route.wireserver", WIRESERVER, status="fail", outcome="blackhole")
        self.assertCheck(run, "route.imds", IMDS, outcome="ok")

    def test_wrong_source(self):
        self.vm_ip("addr", "add", SECOND_IP + "/24", "dev", VM_IF)
        self.addCleanup(self.vm_ip_undo, "addr", "del", SECOND_IP + "/24", "dev", VM_IF)
        self.vm_ip("route", "add", IMDS + "/32", "via", DHCP_SERVER, "src", SECOND_IP)
        self.addCleanup(self.vm_ip_undo, "route", "del", IMDS + "/32")
        run = self.probe_routes()
        c = self.assertCheck(run, "route.imds", IMDS, status="fail", outcome="wrong_source")
        self.assertEqual(c["evidence"].get("source"), SECOND_IP, c)
        self.assertCheck(run, "route.wireserver", WIRESERVER, outcome="ok")

    def test_no_route(self):
        self.vm_ip("route", "del", "default")
        self.addCleanup(self.vm_ip_undo, "route", "replace", "default", "via", DHCP_SERVER, "dev", VM_IF)
        run = self.probe_routes()
        for cid, dst in (("route.wireserver", WIRESERVER), ("route.imds", IMDS)):
            with self.subTest(check=cid):
                c = self.assertCheck(run, cid, dst, outcome="no_route")
                self.assertNotEqual(c["status"], "pass", c)
        self.assertEqual(self.one(run, "route.wireserver")["status"], "fail")


if __name__ == "__main__":
    unittest.main()
