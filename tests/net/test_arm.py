#!/usr/bin/python3
"""Live blame source (--arm) in the simulated Azure network (tests/net/rig.sh + tests/net/fakearm.py).

Run from the project root, as root:
    /usr/bin/python3 tests/net/test_arm.py -v                   # everything
    /usr/bin/python3 tests/net/test_arm.py -v ArmRigSelfTest    # the fake IMDS token + fake ARM alone
The binary is ./azbprobe unless AZBPROBE names another one; the probe tests are skipped when it does
not exist. AZBP_KEEP_STATE=1 keeps the state dir (STATE/fakearm.log lists every ARM request).

The rig and its helpers come from test_integration.py (imported as a module, like test_proxy.py);
this module builds its own rig and tears it down on every exit path.

Fake ARM: https://management.azure.test (203.0.113.60:443, leaf issued by the rig's test CA), both DNS
servers know the name. It wants "Authorization: Bearer ARM_TOKEN", the token the fake IMDS hands out
at /metadata/identity/oauth2/token. POST effectiveNetworkSecurityGroups / effectiveRouteTable answer
202 + Location + Retry-After: 1; the Location answers 202 once more, then 200 with the fixture.
`rig.sh arm STATE MODE` switches it (403, 403-read, 403-leak, 429, 500, badjson, offorigin, ok) and
the IMDS identity off/on (noidentity, identity).

Probe tests follow the --arm contract:
    azbprobe --arm --arm-endpoint https://management.azure.test --cacert CA --root HEALTHY ...
and assert on the JSON report, plus: the access token never appears in stdout or stderr.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_integration as ti  # noqa: E402  (the rig, its helpers and its addresses)

Rig = ti.Rig
ST1 = ti.ST1
ST_GOOD = ti.ST_GOOD
IMDS = ti.IMDS

ARM_HOST = "management.azure.test"
ARM_IP = "203.0.113.60"
ARM = "https://" + ARM_HOST
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImF6YnAtdGVzdCJ9.FAKE-TOKEN-VALUE"
# Every recognisable piece of the token: whole, its header part, its fake signature part.
TOKEN_PARTS = (TOKEN, TOKEN.split(".")[0], "FAKE-TOKEN-VALUE")
SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-backup-demo"
VM_NAME = "vm-backup-01"
VM_PATH = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (SUB, RG, VM_NAME)
NIC_ID = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkInterfaces/vm-backup-01-nic" % (SUB, RG)
ACTION_NSG = "Microsoft.Network/networkInterfaces/effectiveNetworkSecurityGroups/action"
ACTION_ROUTES = "Microsoft.Network/networkInterfaces/effectiveRouteTable/action"
FIXTURES = os.path.join(os.path.dirname(ti.HERE), "fixtures", "azure-json")
TOKEN_URL = ("http://%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s"
             % (IMDS, "https%3A%2F%2Fmanagement.azure.test%2F"))


def setUpModule():
    ti.setUpModule()          # Rig.up, atexit and signal handlers
    if Rig.env.get("ARM_TOKEN") != TOKEN or not Rig.env.get("FAKEARM_PID"):
        Rig.down()
        raise unittest.SkipTest("the rig came up without the fake ARM")


def tearDownModule():
    ti.tearDownModule()


def arm_mode(mode):
    r = Rig.sh("arm", Rig.state, mode)
    if r.returncode != 0:
        raise RuntimeError("rig.sh arm %s failed: %s" % (mode, r.stderr))


def strings(doc):
    """Every string in a parsed JSON document."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings(v)


def arm_log_clear():
    open(os.path.join(Rig.state, "fakearm.log"), "w").close()


def arm_log():
    with open(os.path.join(Rig.state, "fakearm.log")) as f:
        return f.read().splitlines()


def arm_curl(url, *extra, token=TOKEN, method=None):
    args = ["--cacert", Rig.ca]
    if token is not None:
        args += ["-H", "Authorization: Bearer " + token]
    if method:
        args += ["-X", method, "-d", ""]
    return ti.curl(url, *(args + list(extra)))


class ArmCase(ti.RigCase):
    """Puts the fake ARM and the IMDS identity back to normal after every test."""

    def setUp(self):
        self.addCleanup(arm_mode, "identity")
        self.addCleanup(arm_mode, "ok")
        arm_log_clear()

    def assertNoToken(self, *texts):
        for t in texts:
            for part in TOKEN_PARTS:
                self.assertNotIn(part, t or "", "the access token leaked")


# ------------------------------------------------------------------ rig self-test (no azbprobe)

class ArmRigSelfTest(ArmCase):
    """The fake IMDS token endpoint and the fake ARM, checked with dig and curl from the VM."""

    def test_dns(self):
        for server in (ti.CUSTOM_DNS, ti.WIRESERVER):
            with self.subTest(server=server):
                status, ans = ti.dig(server, ARM_HOST)
                self.assertEqual(status, "NOERROR")
                self.assertEqual([a[4] for a in ans], [ARM_IP])

    def test_token_from_imds(self):
        h = ti.curl(TOKEN_URL, "-H", "Metadata: true")
        self.assertEqual(h.status, 200, h.body)
        doc = json.loads(h.body)
        self.assertEqual(doc["access_token"], TOKEN)
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertEqual(doc["resource"], ARM + "/")
        self.assertIsInstance(doc["expires_in"], str)       # IMDS numbers are strings
        self.assertEqual(ti.curl(TOKEN_URL).status, 400)     # Metadata: true is mandatory
        self.assertEqual(ti.curl(TOKEN_URL.split("&resource")[0], "-H", "Metadata: true").status, 400)

    def test_no_identity_mode(self):
        arm_mode("noidentity")
        h = ti.curl(TOKEN_URL, "-H", "Metadata: true")
        self.assertEqual(h.status, 400)
        self.assertIn("Identity not found", h.body)
        arm_mode("identity")
        self.assertEqual(ti.curl(TOKEN_URL, "-H", "Metadata: true").status, 200)

    def test_tls_and_401_without_token(self):
        h = arm_curl(ARM + VM_PATH + "?api-version=2024-07-01", token=None)
        self.assertEqual(h.rc, 0, "TLS to the fake ARM must verify with the test CA")
        self.assertEqual(h.status, 401, h.body)
        self.assertIn("Bearer", h.headers.get("www-authenticate", ""))
        h = arm_curl(ARM + VM_PATH + "?api-version=2024-07-01", token="not-the-token")
        self.assertEqual(h.status, 401, h.body)
        self.assertEqual(json.loads(h.body)["error"]["code"], "InvalidAuthenticationToken")
        self.assertIn("GET %s 401 auth=missing" % VM_PATH, arm_log())
        self.assertNoToken("\n".join(arm_log()))

    def test_vm_and_nic(self):
        h = arm_curl(ARM + VM_PATH + "?api-version=2024-07-01")
        self.assertEqual(h.status, 200, h.body)
        nics = json.loads(h.body)["properties"]["networkProfile"]["networkInterfaces"]
        self.assertEqual([n["id"] for n in nics], [NIC_ID])
        self.assertEqual(arm_curl(ARM + VM_PATH).status, 400)          # api-version is required
        h = arm_curl(ARM + NIC_ID + "?api-version=2024-05-01")
        self.assertEqual(h.status, 200, h.body)
        nic = json.loads(h.body)
        self.assertEqual(nic["properties"]["macAddress"], "00-0D-3A-4B-5C-6D")
        self.assertEqual(nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"], ti.VM_IP)

    def lro(self, suffix, fixture):
        h = arm_curl(ARM + NIC_ID + "/" + suffix + "?api-version=2024-05-01", method="POST")
        self.assertEqual(h.status, 202, h.body)
        self.assertEqual(h.headers.get("retry-after"), "1")
        loc = h.headers["location"]
        self.assertTrue(loc.startswith(ARM + "/"), loc)
        self.assertTrue(h.headers.get("azure-asyncoperation", "").startswith(ARM + "/"))
        self.assertEqual(arm_curl(loc, token=None).status, 401)        # polls need the token too
        first = arm_curl(loc)
        self.assertEqual(first.status, 202)
        self.assertEqual(first.headers.get("retry-after"), "1")
        final = arm_curl(loc)
        self.assertEqual(final.status, 200, final.body)
        with open(os.path.join(FIXTURES, fixture)) as f:
            self.assertEqual(json.loads(final.body), json.load(f))

    def test_effective_nsg_202_then_200(self):
        self.lro("effectiveNetworkSecurityGroups", "nic-effective-nsg.json")

    def test_effective_routes_202_then_200(self):
        self.lro("effectiveRouteTable", "nic-effective-routes.json")

    def test_modes(self):
        url = ARM + NIC_ID + "/effectiveNetworkSecurityGroups?api-version=2024-05-01"
        arm_mode("403")
        h = arm_curl(url, method="POST")
        self.assertEqual(h.status, 403)
        e = json.loads(h.body)["error"]
        self.assertEqual(e["code"], "AuthorizationFailed")
        self.assertIn(ACTION_NSG, e["message"])
        self.assertEqual(arm_curl(ARM + VM_PATH + "?api-version=2024-07-01").status, 200)
        arm_mode("403-read")
        self.assertEqual(arm_curl(ARM + VM_PATH + "?api-version=2024-07-01").status, 403)
        arm_mode("429")
        h = arm_curl(ARM + VM_PATH + "?api-version=2024-07-01")
        self.assertEqual(h.status, 429)
        self.assertEqual(h.headers.get("retry-after"), "30")
        arm_mode("offorigin")
        h = arm_curl(url, method="POST")
        self.assertEqual(h.status, 202)
        self.assertNotIn(ARM_HOST + "/", h.headers["location"])
        arm_mode("ok")
        self.assertEqual(arm_curl(url, method="POST").status, 202)

    def test_rig_usage_lists_arm(self):
        r = Rig.sh("arm", Rig.state, "nonsense")
        self.assertEqual(r.returncode, 2)
        self.assertIn("rig.sh arm STATE_DIR MODE", r.stderr)


# ------------------------------------------------------------------ azbprobe --arm

@unittest.skipUnless(os.access(ti.AZBPROBE, os.X_OK), "no azbprobe binary at %s (set AZBPROBE)" % ti.AZBPROBE)
class ArmProbeTest(ArmCase, ti.ProbeCase):
    """azbprobe --arm against the fake ARM, with st1:8443 dropped by the emulated NSG."""

    DROP_8443 = "ip daddr %s tcp dport 8443 drop" % ST_GOOD

    def setUp(self):
        ti.ProbeCase.setUp(self)
        ArmCase.setUp(self)

    def arm_probe(self, *extra):
        self.nsg(self.DROP_8443)
        run = self.probe("--region", "northeurope", "--target", ST1, "--arm", "--arm-endpoint", ARM, *extra)
        self.assertNoToken(run.stdout, run.stderr)
        return run

    def assertSkipped(self, run, *needles):
        """Some string of the report (a check's summary, a note, inputs: the report decides where)
        says the live ARM blame source was skipped, and names every needle."""
        notes = [t for t in strings(run.report) if "live arm" in t.lower() and "skipped" in t.lower()]
        self.assertTrue(notes, "no 'live ARM ... skipped' note in the report\n" + run.describe())
        for n in needles:
            self.assertTrue(any(n.lower() in t.lower() for t in notes), "%r not in %r" % (n, notes))
        b = self.one(run, "net.tcp", ST1, 8443).get("blame") or {}
        self.assertFalse((b.get("source") or "").startswith("live ARM"), b)

    def test_live_arm_names_the_rule(self):
        run = self.arm_probe()
        c = self.one(run, "net.tcp", ST1, 8443)
        self.assertEqual(c["outcome"], "timeout", c)
        b = c.get("blame") or {}
        self.assertTrue((b.get("source") or "").startswith("live ARM"), b)
        self.assertEqual(b.get("rule"), "securityRules/DenyInternetOutbound", b)
        self.assertEqual(b.get("priority"), 4000, b)
        self.assertEqual(b.get("access"), "Deny", b)
        self.assertIn("ARM", run.report.get("inputs") or "", run.report.get("inputs"))
        self.assertIsNone(self.one(run, "net.tcp", ST1, 443).get("blame"))
        log = arm_log()
        for suffix in ("effectiveNetworkSecurityGroups", "effectiveRouteTable"):
            self.assertIn("POST %s/%s 202 auth=ok" % (NIC_ID, suffix), log)
        self.assertTrue(all(line.endswith("auth=ok") for line in log if VM_PATH in line or NIC_ID in line), log)
        polls = [line for line in log if "/operationResults/" in line]
        self.assertEqual(sorted(line.split()[2] for line in polls).count("200"), 2, polls)

    def test_verbose_never_prints_the_token(self):
        run = self.arm_probe("-v", "-v")
        self.assertTrue(run.stderr, "-v -v printed nothing")
        self.assertNoToken(run.stdout, run.stderr)

    def test_forbidden_is_skipped_naming_both_actions(self):
        arm_mode("403")
        run = self.arm_probe()
        self.assertSkipped(run, ACTION_NSG, ACTION_ROUTES)

    def test_forbidden_echoing_the_token_is_scrubbed(self):
        arm_mode("403-leak")
        run = self.arm_probe("-v", "-v")
        self.assertSkipped(run, ACTION_NSG)

    def test_throttled_is_skipped(self):
        arm_mode("429")
        run = self.arm_probe()
        self.assertSkipped(run, "throttl", "Retry-After")

    def test_no_identity_is_skipped(self):
        arm_mode("noidentity")
        run = self.arm_probe()
        self.assertSkipped(run, "managed identity")
        self.assertFalse([line for line in arm_log() if VM_PATH in line and "auth=ok" in line],
                         "ARM was asked although there was no token")

    def test_malformed_answer_is_skipped(self):
        arm_mode("badjson")
        run = self.arm_probe()
        self.assertSkipped(run)

    def test_poll_url_on_another_host_gets_no_token(self):
        arm_mode("offorigin")
        run = self.arm_probe()
        self.assertSkipped(run)
        self.assertFalse([line for line in arm_log() if "/operationResults/" in line], arm_log())


if __name__ == "__main__":
    unittest.main()
