#!/usr/bin/python3
"""Integration tests for azbprobe in a simulated Azure network (tests/net/rig.sh).

Run from the project root, as root:
    /usr/bin/python3 tests/net/test_integration.py -v               # everything
    /usr/bin/python3 tests/net/test_integration.py -v RigSelfTest   # the rig alone, no azbprobe needed
The binary is ./azbprobe unless the environment variable AZBPROBE names another one; the probe
tests are skipped when it does not exist. Set AZBP_KEEP_STATE=1 to keep the state dir (logs).

One rig serves the whole module (setUpModule/tearDownModule). It is torn down on every exit path:
tearDownModule, atexit, and SIGTERM/SIGHUP handlers (Ctrl-C raises KeyboardInterrupt, which ends
in atexit). Tests that add firewall rules put them in the per-test chains, which tearDown flushes,
so the baseline NSG rules are never touched.

Probe tests assert on the parsed JSON report only (schema azbprobe.report/1), never on log text.
"""
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RIG = os.path.join(HERE, "rig.sh")
AZBPROBE = os.path.abspath(os.environ.get("AZBPROBE", "./azbprobe"))
PROBE_TIMEOUT = 2          # --timeout given to azbprobe, seconds

# Addresses and names served by the rig (keep in sync with rig.sh).
VM_IP = "198.51.100.10"
CUSTOM_DNS = "198.51.100.1"
WIRESERVER = "168.63.129.16"
IMDS = "169.254.169.254"
ST1 = "st1.blob.core.windows.net"
ST1_CNAME = "blob.dub09prdstr02a.store.core.windows.net"
ST_GOOD = "203.0.113.10"
NAMED = {  # name -> address, on both DNS servers
    "inspect.blob.core.windows.net": "203.0.113.11",
    "reject.blob.core.windows.net": "203.0.113.12",
    "drop.blob.core.windows.net": "203.0.113.13",
    "icmp.blob.core.windows.net": "203.0.113.14",
    "fwdeny.blob.core.windows.net": "203.0.113.16",
    "acctfw.blob.core.windows.net": "203.0.113.17",
}
BLACKHOLES = ["bh%02d.blob.core.windows.net" % i for i in range(1, 21)]
ONLYAZURE = "onlyazure.blob.core.windows.net"
DNSFAKE = CUSTOM_DNS + ":5353"

with open(os.path.join(os.path.dirname(os.path.dirname(HERE)), "packaging", "report.schema.json")) as _f:
    SCHEMA = json.load(_f)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STATUSES = {"pass", "fail", "warn", "skip"}

# Proxy variables from the caller's environment must not leak into the namespace: the rig is
# a direct path, and curl/azbprobe would otherwise try a proxy that does not exist there.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
CLEAN_ENV["LC_ALL"] = "C"


HEALTHY_GUEST = os.path.join(os.path.dirname(HERE), "fixtures", "guest", "ubuntu")


def healthy_guest(root):
    """Give a --root tree a healthy Azure guest (the agent and its handler running, waagent.conf
    defaults, the snapshot extension installed) so that only the network decides a verdict: this
    host runs no guest agent. Then the VM's resolv.conf, since --root is read for it too."""
    shutil.copytree(HEALTHY_GUEST, root, dirs_exist_ok=True)
    for pid, argv in ((812, ["/usr/bin/python3", "-u", "/usr/sbin/waagent", "-daemon"]),
                      (1024, ["python3", "-u", "bin/WALinuxAgent-2.15.0.1-py3.12.egg", "-run-exthandlers"])):
        os.makedirs(os.path.join(root, "proc", str(pid)), exist_ok=True)
        with open(os.path.join(root, "proc", str(pid), "cmdline"), "wb") as f:
            f.write(b"\0".join(a.encode() for a in argv) + b"\0")
        with open(os.path.join(root, "proc", str(pid), "environ"), "wb") as f:
            f.write(b"PATH=/usr/sbin:/usr/bin:/sbin:/bin\0LANG=C.UTF-8\0")
    with open(os.path.join(root, "etc", "resolv.conf"), "w") as f:
        f.write("nameserver %s\nsearch internal.cloudapp.net\n" % CUSTOM_DNS)


class Rig:
    """The module's one rig: state dir, namespace names, CA path."""
    state = None
    env = {}
    down_done = False

    @classmethod
    def sh(cls, *args, timeout=120):
        return subprocess.run(["sh", RIG] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, env=CLEAN_ENV)

    @staticmethod
    def adopt_orphans():
        """Become a child subreaper, so the daemons rig.sh leaves running are reparented to us
        and can be reaped after down (on some hosts pid 1 never reaps them)."""
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass

    @staticmethod
    def reap():
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    @classmethod
    def up(cls):
        cls.adopt_orphans()
        cls.state = tempfile.mkdtemp(prefix="azbp-rig-")
        r = cls.sh("up", cls.state)
        if r.returncode != 0:
            raise RuntimeError("rig.sh up failed (rc %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
        with open(os.path.join(cls.state, "env")) as f:
            for line in f:
                m = re.match(r"^(\w+)='(.*)'$", line.strip())
                if m:
                    cls.env[m.group(1)] = m.group(2)
        cls.ca = cls.env["CA_PEM"]
        cls.guest_root = os.path.join(cls.state, "guest-root")
        healthy_guest(cls.guest_root)
        for d in (cls.state, cls.guest_root):   # readable by the unprivileged test runs
            os.chmod(d, 0o755)
        cls.vm_ns = cls.env["VM_NS"]
        cls.az_ns = cls.env["AZ_NS"]

    @classmethod
    def down(cls):
        """Idempotent; safe from atexit and signal handlers."""
        if cls.down_done or cls.state is None:
            return
        cls.down_done = True
        try:
            r = cls.sh("down", cls.state)
            if r.returncode != 0:
                sys.stderr.write("rig.sh down failed:\n%s%s" % (r.stdout, r.stderr))
            cls.reap()
        finally:
            if os.environ.get("AZBP_KEEP_STATE"):
                sys.stderr.write("rig state kept in %s\n" % cls.state)
            else:
                shutil.rmtree(cls.state, ignore_errors=True)


def _on_signal(signum, _frame):
    Rig.down()
    os._exit(128 + signum)


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("integration tests need root (network namespaces)")
    atexit.register(Rig.down)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    Rig.up()


def tearDownModule():
    Rig.down()


# ------------------------------------------------------------------ helpers

def run_in(ns, args, timeout=60):
    return subprocess.run(["ip", "netns", "exec", ns] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, env=CLEAN_ENV)


def vm(*args, timeout=60):
    return run_in(Rig.vm_ns, args, timeout)


def az(*args, timeout=60):
    return run_in(Rig.az_ns, args, timeout)


class Http:
    """Result of one curl run in the VM namespace."""

    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.elapsed = elapsed
        self.status = None
        self.headers = {}
        self.body = ""
        raw = proc.stdout
        # curl -i prints the header block, a blank line, then the body.
        head, _, self.body = raw.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        if lines and lines[0].startswith("HTTP/"):
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()


def curl(url, *extra, max_time=5):
    start = time.monotonic()
    p = vm("curl", "-s", "-i", "--noproxy", "*", "-m", str(max_time), *extra, url,
           timeout=max_time + 10)
    return Http(p, time.monotonic() - start)


def dig(server, name, qtype="A", port=53):
    """Return (status, answer lines) from dig, or ('TIMEOUT', []) when nothing came back."""
    p = vm("dig", "+time=1", "+tries=1", "-p", str(port), "@" + server, name, qtype, timeout=15)
    m = re.search(r"status: (\w+)", p.stdout)
    if not m:
        return "TIMEOUT", []
    # Keep only the ANSWER section, one list of fields per record.
    sect = p.stdout.split(";; ANSWER SECTION:\n")
    answers = []
    if len(sect) > 1:
        for line in sect[1].split("\n\n")[0].splitlines():
            answers.append(line.split())
    return m.group(1), answers


def nft_counter(ns, table, chain, needle):
    """Packets counted by the first rule in chain that contains needle (None if no such rule)."""
    p = run_in(ns, ["nft", "list", "chain", "inet", table, chain])
    for line in p.stdout.splitlines():
        if needle in line:
            m = re.search(r"counter packets (\d+)", line)
            return int(m.group(1)) if m else None
    return None


class RigCase(unittest.TestCase):
    """Base class: per-test firewall rules, flushed when the test ends (even if setUp failed)."""

    def _flush_later(self):
        if not getattr(self, "_flush_registered", False):
            self._flush_registered = True
            self.addCleanup(self.flush_rules)

    @staticmethod
    def flush_rules():
        for cmd in ("nsg-flush", "guestfw-flush"):
            r = Rig.sh(cmd, Rig.state)
            if r.returncode != 0:
                raise RuntimeError("rig.sh %s failed: %s" % (cmd, r.stderr))

    def nsg(self, rule):
        self._flush_later()
        r = Rig.sh("nsg", Rig.state, rule)
        self.assertEqual(r.returncode, 0, "nsg rule rejected: %s\n%s" % (rule, r.stderr))

    def guestfw(self, rule):
        self._flush_later()
        r = Rig.sh("guestfw", Rig.state, rule)
        self.assertEqual(r.returncode, 0, "guestfw rule rejected: %s\n%s" % (rule, r.stderr))


# ------------------------------------------------------------------ rig self-test

class RigSelfTest(RigCase):
    """The simulated network behaves as documented, checked with dig/curl/openssl (no azbprobe)."""

    def test_isolation(self):
        # Nothing of the rig may appear in the root namespace.
        out = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout
        for a in ("198.51.100.", "203.0.113.", WIRESERVER, IMDS):
            self.assertNotIn(a, out, "rig address leaked into the root namespace")
        self.assertIn(Rig.vm_ns, subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                text=True).stdout)

    def test_vm_resolv_conf(self):
        p = vm("cat", "/etc/resolv.conf")
        self.assertIn("nameserver " + CUSTOM_DNS, p.stdout)
        self.assertIn("search internal.cloudapp.net", p.stdout)
        p = vm("getent", "ahostsv4", ST1)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(ST_GOOD, p.stdout)

    def test_custom_dns(self):
        status, ans = dig(CUSTOM_DNS, ST1)
        self.assertEqual(status, "NOERROR")
        self.assertIn([ST1 + ".", "300", "IN", "CNAME", ST1_CNAME + "."], ans)
        self.assertIn([ST1_CNAME + ".", "60", "IN", "A", ST_GOOD], ans)
        for name, addr in NAMED.items():
            with self.subTest(name=name):
                self.assertEqual(dig(CUSTOM_DNS, name)[1], [[name + ".", "60", "IN", "A", addr]])
        for i, name in enumerate(BLACKHOLES):
            with self.subTest(name=name):
                self.assertEqual(dig(CUSTOM_DNS, name)[1][0][4], "203.0.113.%d" % (101 + i))
        # Only Azure DNS knows onlyazure; the rest of core.windows.net is NXDOMAIN, not forwarded.
        self.assertEqual(dig(CUSTOM_DNS, ONLYAZURE)[0], "NXDOMAIN")
        self.assertEqual(dig(CUSTOM_DNS, "nosuch.blob.core.windows.net")[0], "NXDOMAIN")

    def test_azure_dns(self):
        status, ans = dig(WIRESERVER, ST1)
        self.assertEqual(status, "NOERROR")
        self.assertIn([ST1_CNAME + ".", "60", "IN", "A", ST_GOOD], ans)
        self.assertEqual(dig(WIRESERVER, ONLYAZURE)[1], [[ONLYAZURE + ".", "60", "IN", "A", ST_GOOD]])
        self.assertEqual(dig(WIRESERVER, "acctfw.blob.core.windows.net")[1][0][4], "203.0.113.17")
        self.assertEqual(dig(WIRESERVER, "nosuch.blob.core.windows.net")[0], "NXDOMAIN")

    def test_dnsfake_rcodes(self):
        for name, want in (("x.servfail.test", "SERVFAIL"), ("x.refused.test", "REFUSED"),
                           ("x.nx.test", "NXDOMAIN"), ("x.nodata.test", "NOERROR"),
                           ("x.drop.test", "TIMEOUT")):
            with self.subTest(name=name):
                status, ans = dig(CUSTOM_DNS, name, port=5353)
                self.assertEqual(status, want)
                self.assertEqual(ans, [])

    def test_dnsfake_cnames(self):
        status, ans = dig(CUSTOM_DNS, "loop1.loop.test", port=5353)
        self.assertEqual(status, "NOERROR")
        self.assertEqual([a[3:] for a in ans], [["CNAME", "loop2.loop.test."], ["CNAME", "loop1.loop.test."]])
        status, ans = dig(CUSTOM_DNS, "deep.chain.test", port=5353)
        self.assertEqual(status, "NOERROR")
        self.assertEqual([a[3] for a in ans], ["CNAME"] * 20 + ["A"])
        self.assertEqual(ans[-1][4], ST_GOOD)

    def test_storage_https(self):
        for port in (443, 8443):
            with self.subTest(port=port):
                # Name resolved by curl through the namespace resolv.conf (custom DNS).
                r = curl("https://%s:%d/" % (ST1, port), "--cacert", Rig.ca)
                self.assertEqual(r.rc, 0)
                self.assertEqual(r.status, 400)
                self.assertRegex(r.headers.get("x-ms-request-id", ""), UUID_RE)
                self.assertEqual(r.headers.get("x-ms-error-code"), "InvalidQueryParameterValue")
                self.assertIn("<Code>InvalidQueryParameterValue</Code>", r.body)

    def test_good_chain_verifies(self):
        p = vm("openssl", "s_client", "-connect", ST_GOOD + ":443", "-servername", ST1,
               "-CAfile", Rig.ca, "-verify_hostname", ST1, "-verify_return_error", timeout=15)
        self.assertIn("Verify return code: 0 (ok)", p.stdout)
        self.assertIn("azbprobe Test Issuing CA 01", p.stdout)

    def test_tls_inspection(self):
        r = curl("https://inspect.blob.core.windows.net/", "--cacert", Rig.ca)
        self.assertEqual(r.rc, 60)            # CURLE_PEER_FAILED_VERIFICATION
        p = vm("openssl", "s_client", "-connect", "203.0.113.11:8443", "-servername",
               "inspect.blob.core.windows.net", timeout=15)
        self.assertRegex(p.stdout, r"issuer=.*Contoso TLS Inspection CA")

    def test_firewall_deny_page(self):
        r = curl("https://fwdeny.blob.core.windows.net/", "--cacert", Rig.ca)
        self.assertEqual(r.status, 470)
        self.assertIn("HTTP request from %s:" % VM_IP, r.body)
        self.assertIn("Action: Deny. Reason: No rule matched. Proceeding with default action.", r.body)

    def test_storage_account_firewall(self):
        r = curl("https://acctfw.blob.core.windows.net:8443/", "--cacert", Rig.ca)
        self.assertEqual(r.status, 403)
        self.assertEqual(r.headers.get("x-ms-error-code"), "AuthorizationFailure")
        self.assertRegex(r.headers.get("x-ms-request-id", ""), UUID_RE)

    def test_nsg_baseline(self):
        before = nft_counter(Rig.az_ns, "azbp_nsg", "baseline", "203.0.113.12")
        r = curl("https://reject.blob.core.windows.net/", "--cacert", Rig.ca)
        self.assertEqual(r.rc, 7)             # connection refused (TCP RST)
        self.assertLess(r.elapsed, 1.5)
        self.assertGreater(nft_counter(Rig.az_ns, "azbp_nsg", "baseline", "203.0.113.12"), before)
        r = curl("https://icmp.blob.core.windows.net/", "--cacert", Rig.ca)
        self.assertEqual(r.rc, 7)             # EHOSTUNREACH from ICMP admin-prohibited
        self.assertLess(r.elapsed, 1.5)
        for name in ("drop.blob.core.windows.net", BLACKHOLES[4]):
            with self.subTest(name=name):
                r = curl("https://%s/" % name, "--cacert", Rig.ca, max_time=1)
                self.assertEqual(r.rc, 28)    # timeout

    def test_wireserver(self):
        r = curl("http://%s/?comp=versions" % WIRESERVER)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/xml"))
        self.assertIn("<Preferred>\n    <Version>2012-11-30</Version>", r.body)
        self.assertEqual(curl("http://%s/" % WIRESERVER).status, 404)
        self.assertEqual(curl("http://%s/machine/?comp=goalstate" % WIRESERVER).status, 404)
        self.assertEqual(curl("http://%s:32526/health" % WIRESERVER).status, 200)
        self.assertEqual(curl("http://%s:32526/nosuch" % WIRESERVER).status, 404)

    def test_imds(self):
        url = "http://%s/metadata/instance?api-version=2021-02-01" % IMDS
        r = curl(url)
        self.assertEqual(r.status, 400)
        self.assertEqual(json.loads(r.body),
                         {"error": "Bad request. Required metadata header not specified"})
        r = curl(url, "-H", "Metadata: true")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))
        doc = json.loads(r.body)
        self.assertEqual(doc["compute"]["location"], "northeurope")
        self.assertEqual(doc["compute"]["azEnvironment"], "AzurePublicCloud")
        ipv4 = doc["network"]["interface"][0]["ipv4"]
        self.assertEqual(ipv4["ipAddress"][0]["privateIpAddress"], VM_IP)
        self.assertEqual(ipv4["subnet"][0], {"address": "198.51.100.0", "prefix": "24"})
        # The header value must be exactly "true".
        self.assertEqual(curl(url, "-H", "Metadata: yes").status, 400)

    def test_nsg_rule_8443_drop(self):
        self.nsg("ip daddr %s tcp dport 8443 counter drop" % ST_GOOD)
        r = curl("https://%s:8443/" % ST1, "--cacert", Rig.ca, max_time=2)
        self.assertEqual(r.rc, 28)
        self.assertGreater(r.elapsed, 1.8)
        self.assertGreater(nft_counter(Rig.az_ns, "azbp_nsg", "custom", "8443"), 0)
        self.assertEqual(curl("https://%s/" % ST1, "--cacert", Rig.ca).status, 400)
        # After the flush (what tearDown does) 8443 answers again.
        self.flush_rules()
        self.assertEqual(curl("https://%s:8443/" % ST1, "--cacert", Rig.ca).status, 400)

    def test_guest_firewall(self):
        self.guestfw("ip daddr %s tcp dport 32526 counter drop" % WIRESERVER)
        r = curl("http://%s:32526/health" % WIRESERVER, max_time=1)
        self.assertEqual(r.rc, 28)
        self.assertEqual(curl("http://%s/?comp=versions" % WIRESERVER).status, 200)
        self.flush_rules()
        self.assertEqual(curl("http://%s:32526/health" % WIRESERVER).status, 200)


# ------------------------------------------------------------------ azbprobe tests

class ProbeRun:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed
        self.report = None

    def describe(self):
        return "rc=%s elapsed=%.2fs\n--- stdout\n%s\n--- stderr\n%s" % (
            self.rc, self.elapsed, self.stdout[-6000:], self.stderr[-3000:])


def norm(host):
    return (host or "").rstrip(".").lower()


@unittest.skipUnless(os.access(AZBPROBE, os.X_OK), "no azbprobe binary at %s (set AZBPROBE)" % AZBPROBE)
class ProbeCase(RigCase):
    """Runs azbprobe in the VM namespace and checks the JSON report."""

    def setUp(self):
        # A previous test's rules must never leak in (they are flushed on cleanup anyway).
        self.flush_rules()

    maxDiff = None

    def probe(self, *args, json_out=True, base=True):
        cmd = [AZBPROBE]
        if base:
            cmd += ["--format", "json", "--cacert", Rig.ca, "--timeout", str(PROBE_TIMEOUT)]
            if "--root" not in args:
                cmd += ["--root", Rig.guest_root]
        cmd += list(args)
        return self.execute(cmd, json_out=json_out)

    def execute(self, cmd, env=None, prefix=(), json_out=True):
        """Run cmd (azbprobe and its arguments) in the VM namespace, behind prefix (e.g. setpriv),
        with env (default CLEAN_ENV); time it; with json_out, parse the report and check its shape.
        The one runner every test module uses."""
        full = ["ip", "netns", "exec", Rig.vm_ns] + list(prefix) + list(cmd)
        start = time.monotonic()
        try:
            p = subprocess.run(full, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60, env=env or CLEAN_ENV)
        except subprocess.TimeoutExpired:
            self.fail("azbprobe did not finish in 60 s: %s" % full)
        run = ProbeRun(p, time.monotonic() - start)
        run.cmd = full
        if json_out:
            self.assertIn(run.rc, (0, 1), "azbprobe crashed or refused the run\n" + run.describe())
            try:
                run.report = json.loads(run.stdout)
            except ValueError as exc:
                self.fail("stdout is not JSON (%s)\n%s" % (exc, run.describe()))
            self.check_shape(run)
        return run

    def check_shape(self, run):
        """Every report obeys the schema, whatever the scenario."""
        r = run.report
        ctx = run.describe()
        self.assertIsInstance(r, dict, ctx)
        self.assertEqual(r.get("schema"), "azbprobe.report/1", ctx)
        for k in ("version", "region", "cloud", "verdict", "duration_ms", "checks"):
            self.assertIn(k, r, ctx)
        self.assertIn(r["verdict"], ("pass", "fail", "warn"), ctx)
        self.assertIsInstance(r["duration_ms"], int, ctx)
        self.assertIsInstance(r["checks"], list, ctx)
        self.assertTrue(r["checks"], "report has no checks\n" + ctx)
        for c in r["checks"]:
            self.assertIsInstance(c.get("id"), str, c)
            self.assertIn(c.get("status"), STATUSES, c)
            self.assertIsInstance(c.get("required"), bool, c)
            self.assertIsInstance(c.get("outcome"), str, c)
            self.assertRegex(c["outcome"], r"^[a-z0-9_]+$", c)
            self.assertIsInstance(c.get("duration_ms"), int, c)
            self.assertIsInstance(c.get("summary"), str, c)
            self.assertNotIn("\n", c["summary"], c)
            self.assertIsInstance(c.get("why"), str, c)
            self.assertIsInstance(c.get("evidence"), dict, c)
            for k, v in c["evidence"].items():
                self.assertIsInstance(v, str, "evidence %s is not a string in %s" % (k, c))
            if c.get("port") is not None:
                self.assertIsInstance(c["port"], int, c)
        # The exit code follows the verdict.
        self.assertEqual(run.rc, 1 if r["verdict"] == "fail" else 0, ctx)
        # The documented schema (packaging/report.schema.json) describes what was produced.
        for k in SCHEMA["required"]:
            self.assertIn(k, r, "schema-required field %s missing" % k)
        check_def = SCHEMA["$defs"]["check"]["properties"]
        for c in r["checks"]:
            self.assertIn(c["id"], check_def["id"]["enum"], "check id not in the schema: %s" % c)
            self.assertIn(c["outcome"], check_def["outcome"]["enum"], "outcome not in the schema: %s" % c)
        for cp in r.get("consumers", []):
            self.assertIn(cp["consumer"], SCHEMA["$defs"]["consumer"]["properties"]["consumer"]["enum"], cp)

    def find(self, run, cid, target=None, port=None):
        out = []
        for c in run.report["checks"]:
            if c["id"] != cid:
                continue
            if target is not None and norm(c.get("target")) != norm(target):
                continue
            if port is not None and c.get("port") != port:
                continue
            out.append(c)
        return out

    def one(self, run, cid, target=None, port=None):
        found = self.find(run, cid, target, port)
        self.assertEqual(len(found), 1, "want exactly one %s target=%s port=%s, got %d\n%s" % (
            cid, target, port, len(found), run.describe()))
        return found[0]

    def assertCheck(self, run, cid, target=None, port=None, status=None, outcome=None):
        c = self.one(run, cid, target, port)
        msg = json.dumps(c, indent=1)
        if outcome is not None:
            self.assertEqual(c["outcome"], outcome, msg)
        if status is not None:
            self.assertEqual(c["status"], status, msg)
        return c

    def region_target(self, *targets, extra=()):
        args = ["--region", "northeurope"]
        for t in targets:
            args += ["--target", t]
        return self.probe(*(args + list(extra)))


class HealthyTest(ProbeCase):
    """st1 with nothing blocked: the report every healthy VM should get."""

    run_ = None   # one azbprobe run shared by the assertions below

    def healthy(self):
        if HealthyTest.run_ is None:
            HealthyTest.run_ = self.region_target(ST1)
        return HealthyTest.run_

    def test_verdict_pass(self):
        run = self.healthy()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.report["region"], "northeurope")
        clock_warn = False
        for c in run.report["checks"]:
            msg = json.dumps(c, indent=1)
            if "clock" in c["id"]:
                self.assertIn(c["status"], ("pass", "warn"), msg)
                clock_warn |= c["status"] == "warn"
            elif c["id"].split(".")[0] in ("dns", "net", "wireserver", "imds"):
                self.assertEqual(c["status"], "pass", msg)
            else:
                # Checks outside the network contract (e.g. agent files) may not apply here.
                self.assertIn(c["status"], ("pass", "skip"), msg)
        self.assertEqual(run.report["verdict"], "warn" if clock_warn else "pass")

    def test_dns(self):
        run = self.healthy()
        c = self.assertCheck(run, "dns.system", ST1, status="pass", outcome="ok")
        self.assertIn(ST_GOOD, [a.strip() for a in c["evidence"]["addresses"].split(",")])
        self.assertIn(ST1_CNAME, c["evidence"]["cname_chain"])
        c = self.assertCheck(run, "dns.azure", ST1, status="pass", outcome="ok")
        self.assertIn(ST_GOOD, c["evidence"]["addresses"])

    def test_storage_ports(self):
        run = self.healthy()
        for port in (443, 8443):
            with self.subTest(port=port):
                c = self.assertCheck(run, "net.tcp", ST1, port, "pass", "ok")
                self.assertEqual(c.get("path"), "direct")
                self.assertCheck(run, "net.tls", ST1, port, "pass", "ok")
                c = self.assertCheck(run, "net.https", ST1, port, "pass", "ok")
                self.assertRegex(c["evidence"].get("x_ms_request_id", ""), UUID_RE)

    def test_host_path_and_imds(self):
        run = self.healthy()
        c = self.assertCheck(run, "wireserver.http", status="pass", outcome="ok")
        self.assertTrue(c["required"])
        self.assertEqual(c.get("port"), 80)
        c = self.assertCheck(run, "wireserver.hostgaplugin", status="pass", outcome="ok")
        self.assertTrue(c["required"])
        self.assertEqual(c.get("port"), 32526)
        c = self.assertCheck(run, "imds.instance", status="pass", outcome="ok")
        self.assertFalse(c["required"])
        self.assertEqual(c["evidence"].get("location"), "northeurope")
        self.assertEqual(c["evidence"].get("private_ip"), VM_IP)


class StorageFailureTest(ProbeCase):
    """Storage unreachable while the host path works: warnings, exit 0."""

    def test_8443_dropped(self):
        self.nsg("ip daddr %s tcp dport 8443 counter drop" % ST_GOOD)
        run = self.region_target(ST1)
        c = self.assertCheck(run, "net.tcp", ST1, 8443, "warn", "timeout")
        # It waited for the timeout, not much less and not much more.
        self.assertGreaterEqual(c["duration_ms"], PROBE_TIMEOUT * 1000 * 0.8, c)
        self.assertLessEqual(c["duration_ms"], PROBE_TIMEOUT * 1000 + 1000, c)
        for cid in ("net.tls", "net.https"):
            self.assertCheck(run, cid, ST1, 8443, "skip", "skipped")
        self.assertCheck(run, "net.tcp", ST1, 443, "pass", "ok")
        self.assertCheck(run, "net.https", ST1, 443, "pass", "ok")
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.report["verdict"], "warn")
        self.assertGreater(nft_counter(Rig.az_ns, "azbp_nsg", "custom", "8443"), 0)

    def test_443_dropped_is_warning_while_host_path_works(self):
        self.nsg("ip daddr %s tcp dport 443 counter drop" % ST_GOOD)
        run = self.region_target(ST1)
        self.assertCheck(run, "net.tcp", ST1, 443, "warn", "timeout")
        self.assertCheck(run, "wireserver.http", status="pass")
        self.assertCheck(run, "wireserver.hostgaplugin", status="pass")
        self.assertEqual(run.rc, 0, run.describe())

    def test_443_rejected(self):
        host = "reject.blob.core.windows.net"
        run = self.region_target(host)
        c = self.assertCheck(run, "net.tcp", host, 443, "warn", "refused")
        self.assertLess(c["duration_ms"], 1000, c)
        self.assertCheck(run, "net.tls", host, 443, "skip", "skipped")
        self.assertEqual(run.rc, 0, run.describe())

    def test_icmp_prohibited(self):
        host = "icmp.blob.core.windows.net"
        run = self.region_target(host)
        for port in (443, 8443):
            with self.subTest(port=port):
                self.assertCheck(run, "net.tcp", host, port, "warn", "unreachable")
        self.assertEqual(run.rc, 0, run.describe())

    def test_twenty_blackholed_targets(self):
        start = time.monotonic()
        run = self.region_target(*BLACKHOLES)
        wall = time.monotonic() - start
        # All probes run in parallel: the whole run fits in about one timeout.
        self.assertLess(wall, 2 * PROBE_TIMEOUT, run.describe())
        self.assertIn(run.rc, (0, 1))
        for host in BLACKHOLES:
            for port in (443, 8443):
                with self.subTest(host=host, port=port):
                    self.assertCheck(run, "net.tcp", host, port, outcome="timeout")

    def test_tls_inspection(self):
        host = "inspect.blob.core.windows.net"
        run = self.region_target(host)
        self.assertCheck(run, "net.tcp", host, 443, "pass", "ok")
        c = self.assertCheck(run, "net.tls", host, 443, outcome="untrusted")
        self.assertIn(c["status"], ("warn", "fail"))
        self.assertIn("Contoso", c["evidence"].get("tls_issuer", ""), c)

    def test_azure_firewall_deny_page(self):
        host = "fwdeny.blob.core.windows.net"
        run = self.region_target(host)
        self.assertCheck(run, "net.tls", host, 443, "pass", "ok")
        c = self.assertCheck(run, "net.https", host, 443, outcome="firewall_deny")
        self.assertIn(c["status"], ("warn", "fail"))
        self.assertEqual(c["evidence"].get("http_status"), "470", c)

    def test_storage_account_firewall(self):
        host = "acctfw.blob.core.windows.net"
        run = self.region_target(host)
        c = self.assertCheck(run, "net.https", host, 443, outcome="storage_firewall")
        self.assertEqual(c["evidence"].get("http_status"), "403", c)
        self.assertRegex(c["evidence"].get("x_ms_request_id", ""), UUID_RE)


class HostileServerTest(ProbeCase):
    """Responses built to hurt: the probe stops reading and still reports (c-toolkit: bound by size
    and time)."""

    def test_huge_headers_and_slow_sender(self):
        host = "hostile.blob.core.windows.net"
        run = self.probe("--region", "northeurope", "--target", host)
        self.assertLess(run.elapsed, 3 * PROBE_TIMEOUT + 2, run.describe())
        huge = self.one(run, "net.https", host, 443)
        self.assertEqual(huge["outcome"], "error", run.describe())
        self.assertIn("exceeded", huge["evidence"].get("curl_error", "") + huge["summary"])
        slow = self.one(run, "net.https", host, 8443)
        self.assertEqual(slow["outcome"], "timeout", run.describe())
        self.assertLess(slow["duration_ms"], PROBE_TIMEOUT * 1000 + 1500)


    def test_sni_filter_resets_after_client_hello(self):
        host = "hostile.blob.core.windows.net"
        run = self.probe("--region", "northeurope", "--target", host, "--ports", "9443")
        self.assertEqual(self.one(run, "net.tcp", host, 9443)["outcome"], "ok", run.describe())
        tls = self.one(run, "net.tls", host, 9443)
        self.assertEqual(tls["outcome"], "reset_after_hello", run.describe())
        self.assertIn(host, tls["summary"])
        self.assertEqual(self.one(run, "net.https", host, 9443)["status"], "skip")


class BlameTest(ProbeCase):
    """A failed flow is explained: by the NSG export's rule when one is given, by inference otherwise;
    the WireServer is never put on an NSG."""

    FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures", "azure-json")

    def test_nsg_export_names_the_rule(self):
        self.nsg("ip daddr %s tcp dport 8443 drop" % ST_GOOD)
        run = self.probe("--region", "northeurope", "--target", ST1, "--nsg",
                         os.path.join(self.FIXTURES, "nic-effective-nsg.json"))
        self.assertIn("nic-effective-nsg.json", run.report.get("inputs") or "", run.report.get("inputs"))
        self.assertIn("changeNumber 376", run.report.get("service_tags") or "")
        c = self.one(run, "net.tcp", ST1, 8443)
        self.assertEqual(c["outcome"], "timeout", c)
        b = c["blame"]
        self.assertEqual(b["source"], "effective NSG export", b)
        self.assertEqual(b["rule"], "securityRules/DenyInternetOutbound", b)
        self.assertEqual(b["priority"], 4000, b)
        self.assertEqual(b["access"], "Deny", b)
        self.assertIn("priority number lower than 4000", b["fix"], b)
        self.assertIsNone(self.one(run, "net.tcp", ST1, 443).get("blame"))  # passes are never blamed

    def test_inference_without_exports(self):
        run = self.probe("--region", "northeurope", "--target", "reject.blob.core.windows.net", "--ports", "443")
        b = self.one(run, "net.tcp", "reject.blob.core.windows.net", 443)["blame"]
        self.assertIn("inference", b["source"], b)
        self.assertIn("never reset", b["verdict"], b)
        self.assertIn("list-effective-nsg", b["commands"], b)

    def test_wireserver_is_never_an_nsg(self):
        self.guestfw("ip daddr %s tcp dport 80 drop" % WIRESERVER)
        run = self.probe("--region", "northeurope", "--nsg", os.path.join(self.FIXTURES, "nic-effective-nsg.json"))
        b = self.one(run, "wireserver.http")["blame"]
        self.assertIn("guest", b["source"], b)
        self.assertIsNone(b.get("rule"), b)

    def test_guest_rule_named_before_any_nsg(self):
        """A guest nftables rule dropping 443 is named (table, chain, rule), not the NSG export's rule:
        live (the probe reads the VM's own ruleset), then from a bundle's nft-ruleset.json."""
        self.guestfw("ip daddr %s tcp dport 443 drop" % ST_GOOD)
        nsg = os.path.join(self.FIXTURES, "nic-effective-nsg.json")
        live = self.probe("--region", "northeurope", "--target", ST1, "--ports", "443", "--nsg", nsg,
                          "--root", "/", json_out=False)
        bundle = os.path.join(Rig.state, "fw-bundle")
        healthy_guest(bundle)
        with open(os.path.join(bundle, "nft-ruleset.json"), "w") as f:
            f.write(vm("nft", "-j", "list", "ruleset").stdout)
        offline = self.probe("--region", "northeurope", "--target", ST1, "--ports", "443", "--nsg", nsg,
                             "--root", bundle)
        for run in (live, offline):
            report = json.loads(run.stdout) if run.report is None else run.report
            c = [x for x in report["checks"] if x["id"] == "net.tcp" and x["port"] == 443][0]
            b = c["blame"]
            self.assertEqual(b["source"], "guest firewall", b)
            self.assertIn("azbp_guest", b["verdict"], b)
            self.assertIn("tcp dport 443", b["rule"], b)
            self.assertIsNone(b.get("priority"), b)

    def test_route_export_names_the_appliance(self):
        self.nsg("ip daddr %s tcp dport 443 drop" % ST_GOOD)
        run = self.probe("--region", "northeurope", "--target", ST1, "--ports", "443", "--routes",
                         os.path.join(self.FIXTURES, "nic-effective-routes.json"))
        b = self.one(run, "net.tcp", ST1, 443)["blame"]
        self.assertEqual(b["source"], "route export", b)
        self.assertIn("virtual appliance 10.0.2.4", b["verdict"], b)
        self.assertIn("default-to-nva", b["route"], b)
        self.assertIn("nic-effective-routes.json", run.report["inputs"])

    def test_unusable_export_exits_2(self):
        bad = os.path.join(Rig.state, "bad-nsg.json")
        with open(bad, "w") as f:
            f.write('{"securityRules": [{"name": "x", "priority": 100, "direction": "Outbound", "access": "Deny",'
                    ' "protocol": "Tcp", "destinationPortRange": "10-5", "sourceAddressPrefix": "*",'
                    ' "destinationAddressPrefix": "*", "sourcePortRange": "*"}]}')
        run = self.probe("--region", "northeurope", "--nsg", bad, json_out=False)
        self.assertEqual(run.rc, 2, run.describe())
        self.assertIn("bad-nsg.json", run.stderr)
        self.assertIn("10-5", run.stderr)
        self.assertEqual(run.stdout, "")


class OutputTest(ProbeCase):
    def test_output_file_and_formats(self):
        out = os.path.join(Rig.state, "report.md")
        run = self.probe("--region", "northeurope", "--target", ST1, "--format", "markdown", "--root",
                         Rig.guest_root, "--cacert", Rig.ca, "--output", out, base=False, json_out=False)
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.stdout, "")
        with open(out) as f:
            md = f.read()
        self.assertTrue(md.startswith("## azbprobe report:"), md[:200])
        self.assertIn("| pass | net.https | st1.blob.core.windows.net | 443 |", md)
        text = self.probe("--region", "northeurope", "--target", ST1, "--cacert", Rig.ca, "--root",
                          Rig.guest_root, "--format", "text", base=False, json_out=False)
        self.assertTrue(text.stdout.startswith("azbprobe "), text.describe())
        self.assertNotIn("\033", text.stdout)  # not a terminal: no colour
        self.assertTrue(all(len(l) <= 100 for l in text.stdout.splitlines()))


class InterruptTest(ProbeCase):
    """Ctrl-C mid-run still prints a complete report of what was measured."""

    def test_sigint_prints_report(self):
        cmd = ["ip", "netns", "exec", Rig.vm_ns, AZBPROBE, "--format", "json", "--cacert", Rig.ca,
               "--timeout", "20", "--region", "northeurope", "--target", "drop.blob.core.windows.net"]
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=CLEAN_ENV)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 5, err)
        report = json.loads(out)
        self.assertEqual(report["schema"], "azbprobe.report/1")
        ws = [c for c in report["checks"] if c["id"] == "wireserver.http"][0]
        self.assertEqual(ws["status"], "pass")
        tcp = [c for c in report["checks"] if c["id"] == "net.tcp" and c["port"] == 443][0]
        self.assertEqual(tcp["outcome"], "timeout")
        self.assertIn(p.returncode, (0, 1))


class HostPathFailureTest(ProbeCase):
    """The host path (WireServer 80 / HostGAPlugin 32526) is required."""

    def setUp(self):
        super().setUp()
        self.guestfw("ip daddr %s tcp dport 32526 counter drop" % WIRESERVER)

    def test_hostgaplugin_blocked(self):
        run = self.region_target(ST1)
        c = self.assertCheck(run, "wireserver.hostgaplugin", status="fail", outcome="timeout")
        self.assertTrue(c["required"])
        self.assertCheck(run, "wireserver.http", status="pass", outcome="ok")
        self.assertEqual(run.report["verdict"], "fail")
        self.assertEqual(run.rc, 1, run.describe())
        self.assertGreater(nft_counter(Rig.vm_ns, "azbp_guest", "output", "32526"), 0)

    def test_storage_443_fails_with_host_path(self):
        self.nsg("ip daddr %s tcp dport 443 counter drop" % ST_GOOD)
        run = self.region_target(ST1)
        self.assertCheck(run, "wireserver.hostgaplugin", status="fail")
        self.assertCheck(run, "net.tcp", ST1, 443, "fail", "timeout")
        # 8443 is never more than a warning.
        self.assertIn(self.one(run, "net.tcp", ST1, 8443)["status"], ("pass", "warn"))
        self.assertEqual(run.rc, 1, run.describe())


class DnsTest(ProbeCase):

    def test_nxdomain_on_custom_dns_only(self):
        run = self.region_target(ONLYAZURE)
        c = self.assertCheck(run, "dns.system", ONLYAZURE, outcome="nxdomain")
        self.assertIn(c["status"], ("warn", "fail"))
        self.assertRegex(c["summary"], r"(?i)custom\s+DNS")
        c = self.assertCheck(run, "dns.azure", ONLYAZURE, status="pass", outcome="ok")
        self.assertIn(ST_GOOD, c["evidence"]["addresses"])

    def dnsfake_run(self, name):
        start = time.monotonic()
        run = self.probe("--region", "northeurope", "--dns-server", DNSFAKE, "--target", name)
        run.wall = time.monotonic() - start
        return run

    def test_rcodes(self):
        for name, outcome in (("x.servfail.test", "servfail"), ("x.refused.test", "refused"),
                              ("x.nx.test", "nxdomain"), ("x.nodata.test", "nodata"),
                              ("x.drop.test", "timeout")):
            with self.subTest(name=name):
                run = self.dnsfake_run(name)
                c = self.assertCheck(run, "dns.system", name, outcome=outcome)
                self.assertNotEqual(c["status"], "pass", c)
                self.assertLess(run.wall, 2 * PROBE_TIMEOUT, run.describe())

    def test_cname_loop(self):
        run = self.dnsfake_run("loop1.loop.test")   # probe() already asserts: no crash, valid JSON
        c = self.one(run, "dns.system", "loop1.loop.test")
        self.assertNotEqual(c["outcome"], "ok", c)

    def test_deep_chain(self):
        run = self.dnsfake_run("deep.chain.test")
        self.one(run, "dns.system", "deep.chain.test")


class BadInputTest(ProbeCase):
    """Usage errors: exit 2, nothing on stdout, stderr names the bad value."""

    def test_bad_values(self):
        for opt, value in (("--timeout", "0"), ("--timeout", "abc"), ("--ports", "70000"),
                           ("--region", "atlantis"), ("--root", "/nonexistent")):
            with self.subTest(opt=opt, value=value):
                args = ["--format", "json", "--cacert", Rig.ca, "--target", ST1]
                if opt != "--region":
                    args += ["--region", "northeurope"]
                if opt != "--timeout":
                    args += ["--timeout", str(PROBE_TIMEOUT)]
                run = self.probe(*(args + [opt, value]), json_out=False, base=False)
                self.assertEqual(run.rc, 2, run.describe())
                self.assertEqual(run.stdout, "", run.describe())
                self.assertIn(value, run.stderr, run.describe())


if __name__ == "__main__":
    unittest.main()
