#!/usr/bin/python3
"""HTTP-proxy integration tests for azbprobe in the simulated Azure network (tests/net/rig.sh).

Run from the project root, as root:
    /usr/bin/python3 tests/net/test_proxy.py -v                      # everything
    /usr/bin/python3 tests/net/test_proxy.py -v ProxyRigSelfTest     # the rig's proxies alone
The binary is ./azbprobe unless AZBPROBE names another one; the probe tests are skipped when it
does not exist. AZBP_KEEP_STATE=1 keeps the state dir (squid's logs are in STATE/squid).

The rig, its helpers and its addresses come from test_integration.py (imported as a module, like
bench.py does); this module builds its own rig (setUpModule) and tears it down on every exit path
(tearDownModule, atexit, SIGTERM/SIGHUP: installed by test_integration.setUpModule).

Proxies (squid 5, one process, tests/net/squid.conf.in), all CONNECT-only to ports 443 and 8443 and
only for 198.51.100.0/24:
    proxy.corp.example       203.0.113.50:3128 and :443   open
    proxy-auth.corp.example  203.0.113.51:3128            Basic auth, user azbp, password S3cretPw!
    proxy-deny.corp.example  203.0.113.52:3128            allow list .example.org: storage gets 403
    proxy-drop.corp.example  203.0.113.53:3128            silently dropped by the NSG baseline
squid resolves targets with the custom DNS (198.51.100.1) only.

Every probe run gets --root FIXTURE: a directory with etc/resolv.conf (nameserver 198.51.100.1)
and whatever proxy configuration the test writes (etc/environment, etc/waagent.conf, the agent's
systemd drop-ins, proc/<pid>/cmdline+environ of a "running agent"). The probe's own environment
starts from test_integration.CLEAN_ENV (no *_proxy variables); tests add variables explicitly.
Probe tests assert on the JSON report only, never on log text.
"""
import base64
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_integration as ti  # noqa: E402  (the rig, its helpers and its addresses)

Rig = ti.Rig
PROBE_TIMEOUT = ti.PROBE_TIMEOUT
ST1 = ti.ST1
ST_GOOD = ti.ST_GOOD
CUSTOM_DNS = ti.CUSTOM_DNS
WIRESERVER = ti.WIRESERVER
UUID_RE = ti.UUID_RE

# Proxies served by the rig (keep in sync with rig.sh and squid.conf.in).
PROXY_OPEN_IP = "203.0.113.50"
PROXY_AUTH_IP = "203.0.113.51"
PROXY_DENY_IP = "203.0.113.52"
PROXY_DROP_IP = "203.0.113.53"
PROXY = "proxy.corp.example"
PROXY_AUTH = "proxy-auth.corp.example"
PROXY_DENY = "proxy-deny.corp.example"
PROXY_DROP = "proxy-drop.corp.example"
PROXY_NAMES = {PROXY: PROXY_OPEN_IP, PROXY_AUTH: PROXY_AUTH_IP, PROXY_DENY: PROXY_DENY_IP,
               PROXY_DROP: PROXY_DROP_IP}
PROXY_USER = "azbp"
PROXY_PASSWORD = "S3cretPw!"
WRONG_PASSWORD = "WrongPw9"
ALLOWED = "allowed.example.org"          # the one name the allow-list proxy lets through (-> .10)
INSPECT = "inspect.blob.core.windows.net"

# Drops the VM's direct path to the good storage address but not squid's own upstream traffic
# (squid connects from inside az, over lo).
DROP_DIRECT = 'iifname "az0" ip daddr %s tcp dport { 443, 8443 } counter drop' % ST_GOOD

PATH_RE = re.compile(r"^(direct|proxy https?://[^\s@/]+:\d+)$")
CONSUMERS = ("guest agent", "backup extension", "generic client")
PROXY_OUTCOMES = {"ok", "proxy_unresolved", "proxy_refused", "proxy_timeout", "proxy_auth",
                  "proxy_denied", "proxy_upstream", "timeout"}

# Host files squid must never touch (checked before up and after the tests ran).
HOST_SQUID_PATHS = ("/var/spool/squid", "/var/log/squid", "/run/squid", "/run/squid.pid",
                    "/var/run/squid.pid", "/etc/squid")
_host_before = None


def proxy_path(host, port):
    return "proxy http://%s:%d" % (host, port)


def secrets(password):
    """Every form in which a password could leak: its alphanumeric core (so the raw, URL-encoded
    or truncated value is caught), and the Basic credentials a verbose curl log would show."""
    core = re.match(r"[A-Za-z0-9]+", password).group(0)
    basic = "%s:%s" % (PROXY_USER, password)
    return {core, urllib.parse.quote(password, safe=""), base64.b64encode(basic.encode()).decode()}


def host_snapshot():
    snap = {}
    for p in HOST_SQUID_PATHS:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            snap[p] = None
            continue
        entry = [st.st_mtime_ns, st.st_size, st.st_uid]
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                for n in sorted(dirs + files):
                    q = os.path.join(root, n)
                    try:
                        s = os.lstat(q)
                        entry.append((q, s.st_mtime_ns, s.st_size))
                    except FileNotFoundError:
                        pass
        snap[p] = entry
    return snap


def setUpModule():
    global _host_before
    if os.geteuid() != 0:
        raise unittest.SkipTest("integration tests need root (network namespaces)")
    if not shutil.which("squid") or not os.access("/usr/lib/squid/basic_ncsa_auth", os.X_OK):
        raise unittest.SkipTest("squid is not installed (apt-get install squid)")
    _host_before = host_snapshot()
    ti.setUpModule()          # Rig.up, atexit and signal handlers
    if not Rig.env.get("SQUID_PID"):
        Rig.down()
        raise unittest.SkipTest("the rig came up without squid")


def tearDownModule():
    ti.tearDownModule()


# ------------------------------------------------------------------ helpers

class Curl:
    """One curl run in a namespace, through a proxy, with -v: the CONNECT answer and the final
    response are parsed from curl's verbose log ("< " lines)."""

    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.elapsed = elapsed
        self.stderr = proc.stderr
        self.blocks = []                     # [(status, {header-lower: value})]
        for line in proc.stderr.splitlines():
            if not line.startswith("< "):
                continue
            line = line[2:].rstrip("\r")
            if line.startswith("HTTP/"):
                self.blocks.append((int(line.split()[1]), {}))
            elif self.blocks and ":" in line:
                k, _, v = line.partition(":")
                self.blocks[-1][1][k.strip().lower()] = v.strip()
        m = re.search(r"^(\d{3}) (\d{3})$", proc.stdout.strip(), re.M)
        self.code, self.connect = (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    @property
    def connect_headers(self):
        return self.blocks[0][1] if self.blocks else {}

    @property
    def final_headers(self):
        return self.blocks[-1][1] if self.blocks else {}

    def describe(self):
        return "rc=%d code=%d connect=%d\n%s" % (self.rc, self.code, self.connect, self.stderr[-3000:])


def pcurl(url, proxy, *extra, max_time=5, ns=None):
    """curl URL through proxy (an http:// URL) from the VM (or ns); --noproxy '' so that no
    no_proxy of any environment can bypass the proxy."""
    args = ["curl", "-s", "-v", "-o", "/dev/null", "-w", r"\n%{http_code} %{http_connect}\n",
            "--noproxy", "", "-m", str(max_time), "--cacert", Rig.ca, "-x", proxy] + list(extra) + [url]
    start = time.monotonic()
    p = ti.run_in(ns or Rig.vm_ns, args, timeout=max_time + 10)
    return Curl(p, time.monotonic() - start)


class Fixture:
    """A --root directory: etc/resolv.conf plus the proxy configuration a test writes."""

    def __init__(self, parent):
        os.makedirs(parent, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="root-", dir=parent)
        ti.healthy_guest(self.root)
        self.write("etc/resolv.conf", "nameserver %s\nsearch internal.cloudapp.net\n" % CUSTOM_DNS)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, content):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        return p

    def waagent(self, *lines, eol="\n"):
        """etc/waagent.conf with the usual head, then lines; returns the 1-based line number of
        the first of lines."""
        head = ["# Microsoft Azure Linux Agent Configuration", "Provisioning.Agent=auto",
                "ResourceDisk.Format=n"]
        self.write("etc/waagent.conf", eol.join(head + list(lines)) + eol)
        return len(head) + 1

    def environment(self, *lines):
        self.write("etc/environment", "\n".join(lines) + "\n")

    def agent_unit(self, *lines, name="http-proxy.conf"):
        self.write("etc/systemd/system/walinuxagent.service.d/" + name,
                   "[Service]\n" + "\n".join(lines) + "\n")

    def agent_process(self, environ, pid=4242, cmdline=("/usr/bin/python3", "-u", "/usr/sbin/waagent",
                                                        "-run-exthandlers")):
        for old in ("812", "1024"):    # this test's agent replaces healthy_guest's
            shutil.rmtree(self.path("proc/" + old), ignore_errors=True)
        self.write("proc/%d/cmdline" % pid, "\0".join(cmdline) + "\0")
        self.write("proc/%d/environ" % pid, "".join("%s=%s\0" % kv for kv in environ.items()))


@unittest.skipUnless(os.access(ti.AZBPROBE, os.X_OK), "no azbprobe binary at %s (set AZBPROBE)" % ti.AZBPROBE)
class ProxyProbeCase(ti.ProbeCase):
    """azbprobe in the VM namespace with a fixture --root and a controlled environment."""

    def setUp(self):
        super().setUp()
        self.fx = Fixture(os.path.join(Rig.state, "fixtures"))
        self.addCleanup(shutil.rmtree, self.fx.root, True)

    def run_probe(self, *args, env=None, fmt="json", base=True, json_out=True, root=True):
        cmd = [ti.AZBPROBE]
        if base:
            cmd += ["--format", fmt, "--cacert", Rig.ca, "--timeout", str(PROBE_TIMEOUT),
                    "--region", "northeurope"]
        if root:
            cmd += ["--root", self.fx.root]
        cmd += list(args)
        environ = dict(ti.CLEAN_ENV)
        environ.update(env or {})
        run = self.execute(cmd, env=environ, json_out=json_out)
        if json_out:
            self.check_proxy_shape(run)
        return run

    def check_proxy_shape(self, run):
        """The proxy additions to azbprobe.report/1, whatever the scenario."""
        r = run.report
        ctx = run.describe()
        seen = set()
        for c in r["checks"]:
            if c["id"] in ("net.tcp", "net.tls", "net.https", "wireserver.http",
                           "wireserver.hostgaplugin", "imds.instance"):
                self.assertRegex(c.get("path", ""), PATH_RE, c)
            if c["id"].startswith(("wireserver.", "imds.")):
                self.assertEqual(c.get("path"), "direct", c)
            if c["id"] in ("net.tcp", "net.tls", "net.https"):
                key = (c["id"], ti.norm(c.get("target")), c.get("port"), c.get("path"))
                self.assertNotIn(key, seen, "a net check exists twice for one path\n" + ctx)
                seen.add(key)
        for cid in ("proxy.config", "proxy.platform"):
            self.assertEqual(len(self.find(run, cid)), 1, "want exactly one %s\n%s" % (cid, ctx))
        self.assertIsInstance(r.get("consumers"), list, ctx)
        keys = set()
        for e in r["consumers"]:
            msg = json.dumps(e, indent=1)
            self.assertIsInstance(e.get("target"), str, msg)
            self.assertIsInstance(e.get("port"), int, msg)
            self.assertIn(e.get("consumer"), CONSUMERS, msg)
            self.assertRegex(e.get("path", ""), PATH_RE, msg)
            self.assertIsInstance(e.get("decided_by"), str, msg)
            self.assertTrue(e["decided_by"], msg)
            self.assertIn(e.get("status"), ti.STATUSES, msg)
            self.assertIsInstance(e.get("summary"), str, msg)
            self.assertNotIn("\n", e["summary"], msg)
            key = (ti.norm(e["target"]), e["port"], e["consumer"])
            self.assertNotIn(key, keys, "consumer entry twice\n" + ctx)
            keys.add(key)

    # -- finding things in the report

    def net(self, run, cid, target, port, path):
        found = [c for c in self.find(run, cid, target, port) if c.get("path") == path]
        self.assertEqual(len(found), 1, "want exactly one %s %s:%d path %r, got %d\n%s" % (
            cid, target, port, path, len(found), run.describe()))
        return found[0]

    def paths(self, run, cid, target, port):
        return sorted(c.get("path") for c in self.find(run, cid, target, port))

    def consumer(self, run, target, port, name):
        found = [e for e in run.report["consumers"] if ti.norm(e["target"]) == ti.norm(target)
                 and e["port"] == port and e["consumer"] == name]
        self.assertEqual(len(found), 1, "want exactly one consumer %r for %s:%d\n%s" % (
            name, target, port, run.describe()))
        return found[0]

    def config(self, run):
        return self.one(run, "proxy.config")

    def assertNoSecret(self, run, *passwords):
        for pw in passwords:
            for form in secrets(pw):
                for stream, text in (("stdout", run.stdout), ("stderr", run.stderr)):
                    self.assertNotIn(form, text, "%r leaked on %s of %s" % (form, stream, run.cmd))


# ------------------------------------------------------------------ rig self-test

class ProxyRigSelfTest(ti.RigCase):
    """The rig's proxies behave as documented, checked with dig/curl/openssl (no azbprobe)."""

    def test_dns_names(self):
        for server in (CUSTOM_DNS, WIRESERVER):
            for name, addr in PROXY_NAMES.items():
                with self.subTest(server=server, name=name):
                    self.assertEqual(ti.dig(server, name)[1], [[name + ".", "300", "IN", "A", addr]])
            with self.subTest(server=server, name=ALLOWED):
                self.assertEqual(ti.dig(server, ALLOWED)[1][0][4], ST_GOOD)
            self.assertEqual(ti.dig(server, "nosuchproxy.corp.example")[0], "NXDOMAIN")

    def test_squid_process(self):
        pid = Rig.env["SQUID_PID"]
        self.assertTrue(os.path.exists("/proc/%s" % pid), "squid (pid %s) is gone" % pid)
        p = subprocess.run(["ip", "netns", "identify", pid], capture_output=True, text=True)
        self.assertEqual(p.stdout.strip(), Rig.az_ns)
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
        conf = os.path.join(Rig.state, "squid", "squid.conf").encode()
        self.assertIn(b"-N", argv)
        self.assertEqual(argv[argv.index(b"-f") + 1], conf)
        with open("/proc/%s/status" % pid) as f:
            uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
        self.assertEqual(pwd.getpwuid(int(uid)).pw_name, "proxy")
        sq = os.path.join(Rig.state, "squid")
        for n in ("squid.pid", "cache.log", "access.log"):
            self.assertTrue(os.path.exists(os.path.join(sq, n)), n)
        with open(os.path.join(sq, "passwd")) as f:
            self.assertNotIn(PROXY_PASSWORD, f.read())

    def test_host_squid_untouched(self):
        # Send some traffic first, so squid has had reasons to write logs.
        pcurl("https://%s/" % ST1, "http://%s:3128" % PROXY)
        self.assertEqual(host_snapshot(), _host_before)
        name = Rig.env.get("SQUID_NAME", "")
        self.assertTrue(name.startswith("azbp"), name)
        ours = [n for n in os.listdir("/dev/shm") if n.startswith(name + "-")]
        self.assertTrue(ours, "squid's shared memory is not named after our service name")

    def test_open_proxy(self):
        for pport in (3128, 443):
            for port in (443, 8443):
                with self.subTest(proxy_port=pport, port=port):
                    r = pcurl("https://%s:%d/" % (ST1, port), "http://%s:%d" % (PROXY, pport))
                    self.assertEqual(r.rc, 0, r.describe())
                    self.assertEqual(r.connect, 200, r.describe())
                    self.assertEqual(r.code, 400, r.describe())
                    self.assertRegex(r.final_headers.get("x-ms-request-id", ""), UUID_RE)

    def test_auth_proxy(self):
        url = "https://%s/" % ST1
        r = pcurl(url, "http://%s:3128" % PROXY_AUTH)
        self.assertEqual(r.rc, 56, r.describe())
        self.assertEqual(r.connect, 407, r.describe())
        self.assertTrue(r.connect_headers.get("proxy-authenticate", "").startswith("Basic "), r.describe())
        self.assertEqual(r.connect_headers.get("x-squid-error"), "ERR_CACHE_ACCESS_DENIED 0")
        r = pcurl(url, "http://%s:%s@%s:3128" % (PROXY_USER, WRONG_PASSWORD, PROXY_AUTH))
        self.assertEqual(r.connect, 407, r.describe())
        # The password exactly as the probe tests put it in https_proxy (raw '!').
        r = pcurl(url, "http://%s:%s@%s:3128" % (PROXY_USER, PROXY_PASSWORD, PROXY_AUTH))
        self.assertEqual((r.rc, r.connect, r.code), (0, 200, 400), r.describe())
        r = pcurl(url, "http://%s:3128" % PROXY_AUTH, "--proxy-user", "%s:%s" % (PROXY_USER, PROXY_PASSWORD))
        self.assertEqual((r.connect, r.code), (200, 400), r.describe())

    def test_deny_proxy(self):
        for port in (443, 8443):
            with self.subTest(port=port):
                r = pcurl("https://%s:%d/" % (ST1, port), "http://%s:3128" % PROXY_DENY)
                self.assertEqual(r.rc, 56, r.describe())
                self.assertEqual(r.connect, 403, r.describe())
                h = r.connect_headers
                self.assertEqual(h.get("x-squid-error"), "ERR_ACCESS_DENIED 0", r.describe())
                self.assertRegex(h.get("server", ""), r"^squid/")
                self.assertIn("(squid/", h.get("via", ""))
        # The allow list does let .example.org through (TLS then fails on the name: -k).
        r = pcurl("https://%s/" % ALLOWED, "http://%s:3128" % PROXY_DENY, "-k")
        self.assertEqual((r.connect, r.code), (200, 400), r.describe())

    def test_direct_path_dropped_proxy_works(self):
        self.nsg(DROP_DIRECT)
        r = ti.curl("https://%s/" % ST1, "--cacert", Rig.ca, max_time=1)
        self.assertEqual(r.rc, 28)
        for pport in (3128, 443):
            with self.subTest(proxy_port=pport):
                r = pcurl("https://%s/" % ST1, "http://%s:%d" % (PROXY, pport))
                self.assertEqual((r.connect, r.code), (200, 400), r.describe())
        self.assertGreater(ti.nft_counter(Rig.az_ns, "azbp_nsg", "custom", ST_GOOD), 0)

    def test_tls_inspection_via_proxy(self):
        r = pcurl("https://%s/" % INSPECT, "http://%s:3128" % PROXY)
        self.assertEqual(r.rc, 60, r.describe())          # CURLE_PEER_FAILED_VERIFICATION
        self.assertEqual(r.connect, 200, r.describe())
        p = ti.vm("openssl", "s_client", "-proxy", "%s:3128" % PROXY, "-connect", INSPECT + ":443",
                  "-servername", INSPECT, timeout=15)
        self.assertRegex(p.stdout, r"issuer=.*Contoso TLS Inspection CA")

    def test_upstream_failures(self):
        proxy = "http://%s:3128" % PROXY
        r = pcurl("https://reject.blob.core.windows.net/", proxy)
        self.assertEqual(r.connect, 503, r.describe())
        self.assertEqual(r.connect_headers.get("x-squid-error"), "ERR_CONNECT_FAIL 111")
        # squid resolves with the custom DNS only: no Azure DNS, no /etc/hosts.
        for name in ("nosuch.blob.core.windows.net", ti.ONLYAZURE):
            with self.subTest(name=name):
                r = pcurl("https://%s/" % name, proxy)
                self.assertEqual(r.connect, 500, r.describe())
                self.assertEqual(r.connect_headers.get("x-squid-error"), "ERR_CANNOT_FORWARD 0")

    def test_policy(self):
        proxy = "http://%s:3128" % PROXY
        # CONNECT only to 443/8443.
        r = pcurl("https://%s:22/" % ST1, proxy)
        self.assertEqual(r.connect, 403, r.describe())
        # A platform request routed to the proxy by mistake never looks like a working host path.
        r = pcurl("http://%s/?comp=versions" % WIRESERVER, proxy)
        self.assertEqual(r.code, 403, r.describe())
        # Only the VM's subnet may use it (from az the source is a 203.0.113.x address).
        r = pcurl("https://%s/" % ST1, "http://%s:3128" % PROXY_OPEN_IP, ns=Rig.az_ns)
        self.assertEqual(r.connect, 403, r.describe())

    def test_unusable_proxies(self):
        url = "https://%s/" % ST1
        r = pcurl(url, "http://nosuchproxy.corp.example:3128", max_time=2)
        self.assertEqual(r.rc, 5, r.describe())              # CURLE_COULDNT_RESOLVE_PROXY
        r = pcurl(url, "http://%s:3999" % CUSTOM_DNS, max_time=2)
        self.assertEqual(r.rc, 7, r.describe())              # refused
        self.assertLess(r.elapsed, 1.5)
        before = ti.nft_counter(Rig.az_ns, "azbp_nsg", "baseline", PROXY_DROP_IP)
        r = pcurl(url, "http://%s:3128" % PROXY_DROP, max_time=1)
        self.assertEqual(r.rc, 28, r.describe())             # silent
        self.assertGreater(ti.nft_counter(Rig.az_ns, "azbp_nsg", "baseline", PROXY_DROP_IP), before)


# ------------------------------------------------------------------ azbprobe tests

class NoProxyTest(ProxyProbeCase):
    """Nothing configured anywhere: no proxy checks to make, every consumer goes direct."""

    def test_nothing_configured(self):
        run = self.run_probe("--target", ST1)
        self.assertCheck(run, "proxy.config", status="skip")
        self.assertCheck(run, "proxy.platform", status="skip")
        for port in (443, 8443):
            self.assertEqual(self.paths(run, "net.tcp", ST1, port), ["direct"])
        for name in CONSUMERS:
            with self.subTest(consumer=name):
                e = self.consumer(run, ST1, 443, name)
                self.assertEqual(e["path"], "direct", e)
                self.assertEqual(e["status"], "pass", e)


class WaagentConfTest(ProxyProbeCase):
    """waagent.conf decides for the guest agent and, inverted, for the backup extension. The VM's
    direct path to storage is dropped; the proxy's own upstream is not."""

    def setUp(self):
        super().setUp()
        self.nsg(DROP_DIRECT)

    def test_host_and_port(self):
        # Test 1: the documented configuration: the agent uses the proxy, backup goes direct.
        self.fx.waagent("HttpProxy.Host=%s" % PROXY, "HttpProxy.Port=3128")
        run = self.run_probe("--target", ST1)
        via = proxy_path(PROXY, 3128)
        e = self.consumer(run, ST1, 443, "guest agent")
        self.assertEqual((e["path"], e["status"]), (via, "pass"), e)
        e = self.consumer(run, ST1, 443, "backup extension")
        self.assertEqual(e["path"], "direct", e)
        self.assertNotEqual(e["status"], "pass", e)
        self.assertEqual(self.net(run, "net.tcp", ST1, 443, "direct")["outcome"], "timeout")
        c = self.net(run, "net.tcp", ST1, 443, via)
        self.assertEqual((c["outcome"], c["status"]), ("ok", "pass"), c)
        c = self.net(run, "net.https", ST1, 443, via)
        self.assertEqual(c["outcome"], "ok", c)
        self.assertRegex(c["evidence"].get("x_ms_request_id", ""), UUID_RE)
        c = self.assertCheck(run, "proxy.config", status="pass")
        self.assertIn(PROXY, c["evidence"].get("waagent_conf", ""), c)
        self.assertCheck(run, "wireserver.http", status="pass")
        self.assertGreater(ti.nft_counter(Rig.az_ns, "azbp_nsg", "custom", ST_GOOD), 0)

    def test_host_only(self):
        # Test 2: Host without Port: the agent goes direct, backup CONNECTs to proxyHost:443.
        self.fx.waagent("HttpProxy.Host=%s" % PROXY)
        run = self.run_probe("--target", ST1)
        via = proxy_path(PROXY, 443)
        e = self.consumer(run, ST1, 443, "backup extension")
        self.assertEqual((e["path"], e["status"]), (via, "pass"), e)
        e = self.consumer(run, ST1, 443, "guest agent")
        self.assertEqual(e["path"], "direct", e)
        self.assertNotEqual(e["status"], "pass", e)
        c = self.net(run, "net.tcp", ST1, 443, via)
        self.assertEqual((c["outcome"], c["status"]), ("ok", "pass"), c)
        self.assertEqual(self.net(run, "net.tcp", ST1, 443, "direct")["outcome"], "timeout")


class AuthProxyTest(ProxyProbeCase):
    """Test 3: an authenticated proxy in this shell's https_proxy: 407 is a finding, and no
    password ever reaches the output."""

    def test_wrong_password_then_right(self):
        via = proxy_path(PROXY_AUTH, 3128)
        env = {"https_proxy": "http://%s:%s@%s:3128" % (PROXY_USER, WRONG_PASSWORD, PROXY_AUTH)}
        run = self.run_probe("-v", "-v", "--target", ST1, env=env)
        self.assertNoSecret(run, WRONG_PASSWORD, PROXY_PASSWORD)
        e = self.consumer(run, ST1, 443, "generic client")
        self.assertEqual(e["path"], via, e)
        c = self.net(run, "net.tcp", ST1, 443, via)
        self.assertEqual(c["outcome"], "proxy_auth", c)
        self.assertNotEqual(c["status"], "pass", c)
        self.assertEqual(c["evidence"].get("proxy_auth_scheme"), "Basic", c)
        c = self.assertCheck(run, "proxy.config", status="warn")
        self.assertRegex(c["summary"], r"(?i)credential", c)

        env = {"https_proxy": "http://%s:%s@%s:3128" % (PROXY_USER, PROXY_PASSWORD, PROXY_AUTH)}
        for fmt in ("json", "text", "markdown"):
            with self.subTest(format=fmt):
                run = self.run_probe("-v", "-v", "--target", ST1, env=env, fmt=fmt,
                                     json_out=(fmt == "json"))
                self.assertIn(run.rc, (0, 1), run.describe())
                self.assertTrue(run.stdout.strip(), run.describe())
                self.assertNoSecret(run, PROXY_PASSWORD, WRONG_PASSWORD)
                if fmt == "json":
                    self.assertEqual(self.consumer(run, ST1, 443, "generic client")["path"], via)
                    self.net(run, "net.tcp", ST1, 443, via)
                    c = self.assertCheck(run, "proxy.config", status="warn")
                    self.assertRegex(c["summary"], r"(?i)credential", c)


class DenyProxyTest(ProxyProbeCase):

    def test_allow_list_denies_storage(self):
        # Test 4: --proxy overrides the environment; the allow list answers 403 + X-Squid-Error.
        via = proxy_path(PROXY_DENY, 3128)
        run = self.run_probe("--proxy", "http://%s:3128" % PROXY_DENY, "--target", ST1)
        self.assertEqual(self.consumer(run, ST1, 443, "generic client")["path"], via)
        for port in (443, 8443):
            with self.subTest(port=port):
                c = self.net(run, "net.tcp", ST1, port, via)
                self.assertEqual(c["outcome"], "proxy_denied", c)
                self.assertNotEqual(c["status"], "pass", c)
                self.assertTrue(c["evidence"].get("proxy_error", "").startswith("ERR_"), c)
                self.assertIn("squid", c["evidence"].get("proxy_server", ""), c)
                for cid in ("net.tls", "net.https"):
                    self.assertEqual(self.net(run, cid, ST1, port, via)["status"], "skip")
        c = self.assertCheck(run, "proxy.config")
        self.assertIn(PROXY_DENY, c["evidence"].get("cli", ""), c)


class InspectionViaProxyTest(ProxyProbeCase):

    def test_tls_inspection(self):
        # Test 5: CONNECT works, the certificate behind it comes from the inspection CA.
        via = proxy_path(PROXY, 3128)
        run = self.run_probe("--proxy", "http://%s:3128" % PROXY, "--target", INSPECT)
        c = self.net(run, "net.tcp", INSPECT, 443, via)
        self.assertEqual(c["outcome"], "ok", c)
        c = self.net(run, "net.tls", INSPECT, 443, via)
        self.assertEqual(c["outcome"], "untrusted", c)
        self.assertIn(c["status"], ("warn", "fail"), c)
        self.assertIn("Contoso", c["evidence"].get("tls_issuer", ""), c)
        self.assertRegex(c["summary"], r"(?i)proxy", c)


class UpstreamFailureTest(ProxyProbeCase):

    def test_proxy_cannot_reach_target(self):
        # The proxy accepted CONNECT but its own connection was reset: 503 ERR_CONNECT_FAIL.
        host = "reject.blob.core.windows.net"
        via = proxy_path(PROXY, 3128)
        run = self.run_probe("--proxy", "http://%s:3128" % PROXY, "--target", host)
        c = self.net(run, "net.tcp", host, 443, via)
        self.assertEqual(c["outcome"], "proxy_upstream", c)
        self.assertEqual(c["evidence"].get("connect_status"), "503", c)
        self.assertTrue(c["evidence"].get("proxy_error", "").startswith("ERR_CONNECT_FAIL"), c)


class EnvironmentProxyTest(ProxyProbeCase):
    """Test 6: this shell's variables, curl's no_proxy, and the platform addresses."""

    def test_no_proxy_bypasses_storage(self):
        env = {"https_proxy": "http://%s:3128" % PROXY, "no_proxy": ".blob.core.windows.net"}
        run = self.run_probe("--target", ST1, env=env)
        e = self.consumer(run, ST1, 443, "generic client")
        self.assertEqual(e["path"], "direct", e)
        self.assertRegex(e["decided_by"], r"(?i)no_proxy", e)
        self.assertEqual(self.paths(run, "net.tcp", ST1, 443), ["direct"])
        # https_proxy never applies to http://168.63.129.16 or http://169.254.169.254.
        self.assertCheck(run, "proxy.platform", status="pass")

    def test_platform_addresses(self):
        proxy = "http://%s:3128" % PROXY
        run = self.run_probe("--target", ST1, env={"http_proxy": proxy})
        c = self.assertCheck(run, "proxy.platform", status="warn")
        self.assertIn("http_proxy", c["summary"], c)
        self.assertIn("no_proxy=168.63.129.16,169.254.169.254", c["summary"], c)
        for cid in ("wireserver.http", "wireserver.hostgaplugin"):
            c = self.assertCheck(run, cid, status="pass")
            self.assertEqual(c.get("path"), "direct", c)
        self.assertEqual(self.one(run, "imds.instance").get("path"), "direct")
        with self.subTest(no_proxy="covered"):
            run = self.run_probe("--target", ST1, env={
                "http_proxy": proxy, "no_proxy": "168.63.129.16,169.254.169.254"})
            self.assertCheck(run, "proxy.platform", status="pass")
            self.assertCheck(run, "wireserver.http", status="pass")
        with self.subTest(source="/etc/environment"):
            self.fx.environment("ALL_PROXY=%s" % proxy)
            run = self.run_probe("--target", ST1)
            c = self.assertCheck(run, "proxy.platform", status="warn")
            self.assertIn("ALL_PROXY", c["summary"], c)
            c = self.assertCheck(run, "proxy.config")
            self.assertIn(PROXY, c["evidence"].get("etc_environment", ""), c)


class AgentEnvironmentTest(ProxyProbeCase):
    """The agent's own environment: its unit's drop-in and the running process (which wins)."""

    def test_unit_and_process_agree(self):
        value = "http://%s:3128" % PROXY
        self.fx.agent_unit('Environment="https_proxy=%s" "http_proxy=%s"' % (value, value),
                           'Environment="no_proxy=168.63.129.16,169.254.169.254"')
        self.fx.agent_process({"PATH": "/usr/sbin:/usr/bin", "https_proxy": value, "http_proxy": value,
                               "no_proxy": "168.63.129.16,169.254.169.254"})
        run = self.run_probe("--target", ST1)
        e = self.consumer(run, ST1, 443, "guest agent")
        self.assertEqual((e["path"], e["status"]), (proxy_path(PROXY, 3128), "pass"), e)
        self.assertEqual(self.consumer(run, ST1, 443, "backup extension")["path"], "direct")
        self.assertEqual(self.consumer(run, ST1, 443, "generic client")["path"], "direct")
        c = self.assertCheck(run, "proxy.config", status="pass")
        for key in ("agent_unit", "agent_process"):
            self.assertIn(PROXY, c["evidence"].get(key, ""), c)
        self.assertCheck(run, "proxy.platform", status="pass")

    def test_process_differs_from_unit(self):
        self.fx.agent_unit('Environment="https_proxy=http://%s:3128"' % PROXY)
        self.fx.agent_process({"https_proxy": "http://%s:443" % PROXY}, pid=777,
                              cmdline=("python3", "-u", "/usr/sbin/waagent", "-daemon"))
        run = self.run_probe("--target", ST1)
        e = self.consumer(run, ST1, 443, "guest agent")
        self.assertEqual(e["path"], proxy_path(PROXY, 443), e)
        c = self.assertCheck(run, "proxy.config", status="warn")
        self.assertIn("disagreement", c["evidence"], c)


class UnusableProxyTest(ProxyProbeCase):
    """Test 7: proxies that do not resolve, refuse, or never answer; all within the run bound."""

    def test_unresolvable_refused_silent(self):
        for proxy, host, port, outcome in (
                ("http://nosuchproxy.corp.example:3128", "nosuchproxy.corp.example", 3128, "proxy_unresolved"),
                ("http://%s:3999" % CUSTOM_DNS, CUSTOM_DNS, 3999, "proxy_refused"),
                ("http://%s:3128" % PROXY_DROP, PROXY_DROP, 3128, "proxy_timeout")):
            with self.subTest(proxy=proxy):
                run = self.run_probe("--proxy", proxy, "--target", ST1)
                self.assertLess(run.elapsed, 3 * PROBE_TIMEOUT + 2, run.describe())
                self.assertEqual(self.consumer(run, ST1, 443, "generic client")["path"],
                                 proxy_path(host, port))
                c = self.net(run, "net.tcp", ST1, 443, proxy_path(host, port))
                self.assertEqual(c["outcome"], outcome, c)
                self.assertNotEqual(c["status"], "pass", c)
                self.assertLessEqual(c["duration_ms"], PROBE_TIMEOUT * 1000 + 1000, c)
                if outcome == "proxy_timeout":
                    self.assertGreaterEqual(c["duration_ms"], PROBE_TIMEOUT * 1000 * 0.8, c)
                # The direct path is probed too (WireServer and IMDS never use the proxy).
                self.assertCheck(run, "wireserver.http", status="pass")


class BadProxyInputTest(ProxyProbeCase):
    """Test 8: hostile configuration files never stop the run; problems name file and line."""

    def test_bad_files(self):
        big = "Logs.Verbose=" + "x" * (1 << 20)
        first = self.fx.waagent("   # an indented comment",                     # +0
                                "HttpProxy.Host = %s" % PROXY,                  # +1 spaces around '='
                                "HttpProxy.Port=8080",                          # +2
                                "HttpProxy.Port=3128   # last one wins",        # +3 duplicate
                                "OS.EnableFirewall=y",                          # +4
                                big,                                            # +5 a 1 MB line
                                "# end", eol="\r\n")
        self.fx.environment('PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
                            "https_proxy=http://:80",                           # line 2
                            "http_proxy=ftp://x",                               # line 3
                            "ALL_PROXY=http://h:0",                             # line 4
                            "HTTPS_PROXY=http://2001:db8::1:3128")              # line 5
        run = self.run_probe("--target", ST1)
        c = self.assertCheck(run, "proxy.config", status="warn")
        problems = c["evidence"].get("problems", "")

        def names(fname, line):
            """problems names fname with line, in either order ("F:12", "F line 12", "line 12 of F")."""
            f = re.escape(fname)
            return re.search(r"%s\D{0,24}\b%d\b|\bline\D{0,3}%d\b\D{0,24}%s" % (f, line, line, f),
                             problems) is not None

        for line in (2, 3, 4, 5):
            with self.subTest(file="etc/environment", line=line):
                self.assertTrue(names("etc/environment", line), c)
        with self.subTest(file="etc/waagent.conf", line=first + 1):
            self.assertTrue(names("etc/waagent.conf", first + 1), c)
        with self.subTest(file="etc/waagent.conf", duplicate=True):
            self.assertTrue(names("etc/waagent.conf", first + 2) or names("etc/waagent.conf", first + 3), c)
        # The agent strips keys and values (and the '#' comment): Host + the last Port. The
        # backup extension's parser fails on "Host = x" and goes direct.
        self.assertEqual(self.consumer(run, ST1, 443, "guest agent")["path"], proxy_path(PROXY, 3128))
        self.assertEqual(self.consumer(run, ST1, 443, "backup extension")["path"], "direct")

    def test_bad_cli_proxy(self):
        for value, shown, hidden in (("http://h:99999", "http://h:99999", None),
                                     ("http://%s:%s@h:99999" % (PROXY_USER, PROXY_PASSWORD), "99999",
                                      PROXY_PASSWORD)):
            with self.subTest(value=value):
                run = self.run_probe("--proxy", value, "--target", ST1, json_out=False)
                self.assertEqual(run.rc, 2, run.describe())
                self.assertEqual(run.stdout, "", run.describe())
                self.assertIn(shown, run.stderr, run.describe())
                if hidden:
                    self.assertNoSecret(run, hidden)


if __name__ == "__main__":
    unittest.main()
