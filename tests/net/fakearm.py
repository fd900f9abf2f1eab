#!/usr/bin/python3
"""Fake Azure Resource Manager for the azbprobe rig (python3 stdlib only: http.server + ssl).

    fakearm.py ADDR PORT CERT_CHAIN KEY FIXTURES_DIR STATE_DIR TOKEN

Serves https://management.azure.test (rig.sh starts it in the az namespace on 203.0.113.60:443):
  GET  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}
       -> the VM, networkProfile.networkInterfaces = [the fixture NIC, primary]
  GET  {nicId}                                   -> FIXTURES/nic-show.json in ARM (nested) form, with the
       rig VM's MAC 00-0D-3A-4B-5C-6D and private IP 198.51.100.10
  POST {nicId}/effectiveNetworkSecurityGroups    -> 202, Location + Azure-AsyncOperation, Retry-After: 1
  POST {nicId}/effectiveRouteTable               -> same
  GET  the Location                              -> 202 once more (Retry-After: 1), then 200 with
       FIXTURES/nic-effective-nsg.json or nic-effective-routes.json
  GET  the Azure-AsyncOperation                  -> {"status":"InProgress"} once, then "Succeeded"
Every request needs ?api-version= and "Authorization: Bearer TOKEN" (else 400 / 401).

Modes: the first word of STATE_DIR/fakearm.mode, read on every request (missing file = ok):
  ok          as above
  403         the two POSTs get 403 AuthorizationFailed (naming the action), the GETs work
  403-read    the VM GET gets 403 AuthorizationFailed
  403-leak    like 403, but the error message echoes the bearer token (a client must scrub it)
  429         every request gets 429 TooManyRequests with Retry-After: 30
  500         the POSTs get 500 InternalServerError
  badjson     the final 200 carries a truncated JSON body
  offorigin   the 202's Location points at another host (a client must not send the token there)

STATE_DIR/fakearm.log gets one line per request: method, path (no query), status, and whether the
Authorization header was ok / missing / wrong; never the token itself.
"""
import copy
import json
import os
import re
import ssl
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

VM_MAC = "00-0D-3A-4B-5C-6D"
VM_IP = "198.51.100.10"
HOST = "management.azure.test"

ADDR, PORT, CERT, KEY, FIXTURES, STATE, TOKEN = sys.argv[1:8]
PORT = int(PORT)
LOCK = threading.Lock()
OPS = {}          # operation id -> {"kind": "nsg"|"routes", "polls": n}


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


NSG_BODY = fixture("nic-effective-nsg.json")
ROUTES_BODY = fixture("nic-effective-routes.json")


def nic_arm():
    """nic-show.json (flat, az CLI) -> the ARM GET form, with the rig VM's MAC and IP."""
    flat = json.loads(fixture("nic-show.json"))
    top = {k: flat.pop(k) for k in ("id", "name", "etag", "location", "type", "tags") if k in flat}
    for k in ("resourceGroup",):
        flat.pop(k, None)
    flat["macAddress"] = VM_MAC
    cfgs = []
    for i, c in enumerate(flat.get("ipConfigurations") or []):
        c = copy.deepcopy(c)
        ctop = {k: c.pop(k) for k in ("id", "name", "etag", "type") if k in c}
        c.pop("resourceGroup", None)
        if i == 0:
            c["privateIPAddress"] = VM_IP
        ctop["properties"] = c
        cfgs.append(ctop)
    flat["ipConfigurations"] = cfgs
    top.setdefault("type", "Microsoft.Network/networkInterfaces")
    top["properties"] = flat
    return top


NIC = nic_arm()
NIC_ID = NIC["id"]
SUB = NIC_ID.split("/")[2]
VM_ID_RE = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Compute/"
                      r"virtualMachines/([^/]+)$", re.I)


def vm_doc(sub, rg, name):
    return {
        "id": "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (sub, rg, name),
        "name": name, "type": "Microsoft.Compute/virtualMachines", "location": "northeurope",
        "properties": {
            "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "networkProfile": {"networkInterfaces": [{"id": NIC_ID, "properties": {"primary": True}}]},
            "provisioningState": "Succeeded",
        },
    }


def mode():
    try:
        with open(os.path.join(STATE, "fakearm.mode")) as f:
            words = f.read().split()
            return words[0] if words else "ok"
    except OSError:
        return "ok"


def err(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeARM/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):   # quiet: our own log below
        pass

    def note(self, status, auth):
        path = urlsplit(self.path).path
        with LOCK, open(os.path.join(STATE, "fakearm.log"), "a") as f:
            f.write("%s %s %d auth=%s\n" % (self.command, path, status, auth))

    def send(self, status, body=b"", headers=(), auth="ok"):
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.note(status, auth)

    def auth_state(self):
        h = self.headers.get("Authorization")
        if h is None:
            return "missing"
        return "ok" if h == "Bearer " + TOKEN else "wrong"

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(min(n, 1 << 20))
        self.handle_any()

    def handle_any(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        auth = self.auth_state()
        if auth != "ok":
            return self.send(401, err("InvalidAuthenticationToken" if auth == "wrong" else "AuthenticationFailed",
                                      "Authentication failed. The 'Authorization' header is %s." % auth),
                             [("WWW-Authenticate", 'Bearer authorization_uri="https://login.microsoftonline.com/'
                                                   'common", error="invalid_token"')], auth)
        if not q.get("api-version"):
            return self.send(400, err("MissingApiVersionParameter",
                                      "The api-version query parameter (?api-version=) is required."))
        m = mode()
        if m == "429":
            return self.send(429, err("TooManyRequests", "The request is being throttled."),
                             [("Retry-After", "30")])
        path = url.path.rstrip("/")
        if self.command == "GET" and VM_ID_RE.match(path):
            return self.get_vm(path, m)
        if self.command == "GET" and path.lower() == NIC_ID.lower():
            return self.send(200, json.dumps(NIC).encode())
        for suffix, kind in (("/effectiveNetworkSecurityGroups", "nsg"), ("/effectiveRouteTable", "routes")):
            if self.command == "POST" and path.lower() == (NIC_ID + suffix).lower():
                return self.start_op(kind, m)
        om = re.search(r"/providers/Microsoft\.Network/locations/northeurope/(operationResults|operations)/"
                       r"([0-9a-f-]{36})$", path, re.I)
        if self.command == "GET" and om:
            return self.poll(om.group(1).lower() == "operations", om.group(2), m)
        return self.send(404, err("ResourceNotFound", "The resource was not found."))

    def get_vm(self, path, m):
        sub, rg, name = VM_ID_RE.match(path).groups()
        if m == "403-read":
            return self.send(403, err("AuthorizationFailed", "The client does not have authorization to perform "
                                      "action 'Microsoft.Compute/virtualMachines/read' over scope '%s'." % path))
        return self.send(200, json.dumps(vm_doc(sub, rg, name)).encode())

    def start_op(self, kind, m):
        action = "effectiveNetworkSecurityGroups" if kind == "nsg" else "effectiveRouteTable"
        if m in ("403", "403-leak"):
            msg = ("The client 'be5947ed-3560-4afe-9504-59967a63f810' with object id "
                   "'be5947ed-3560-4afe-9504-59967a63f810' does not have authorization to perform action "
                   "'Microsoft.Network/networkInterfaces/%s/action' over scope '%s' or the scope is invalid."
                   % (action, NIC_ID))
            if m == "403-leak":
                msg += " Received: Bearer " + TOKEN
            return self.send(403, err("AuthorizationFailed", msg))
        if m == "500":
            return self.send(500, err("InternalServerError", "An error occurred."))
        op = str(uuid.uuid4())
        with LOCK:
            OPS[op] = {"kind": kind, "polls": 0, "async_polls": 0}
        host = "elsewhere.azure.test" if m == "offorigin" else HOST
        base = "https://%s/subscriptions/%s/providers/Microsoft.Network/locations/northeurope" % (host, SUB)
        return self.send(202, b"", [
            ("Location", "%s/operationResults/%s?api-version=2024-05-01" % (base, op)),
            ("Azure-AsyncOperation", "%s/operations/%s?api-version=2024-05-01" % (base, op)),
            ("Retry-After", "1")])

    def poll(self, async_doc, op, m):
        with LOCK:
            st = OPS.get(op)
            if st is not None:
                st["async_polls" if async_doc else "polls"] += 1
                n = st["async_polls" if async_doc else "polls"]
        if st is None:
            return self.send(404, err("OperationNotFound", "The operation was not found."))
        if async_doc:
            status = "InProgress" if n < 2 else "Succeeded"
            return self.send(200, json.dumps({"status": status}).encode(), [("Retry-After", "1")])
        if n < 2:
            return self.send(202, b"", [("Retry-After", "1")])
        body = NSG_BODY if st["kind"] == "nsg" else ROUTES_BODY
        if m == "badjson":
            body = body[: len(body) // 2]
        return self.send(200, body)


class TLSServer(ThreadingHTTPServer):
    """TLS per connection, in the connection's thread: a client that never finishes its
    handshake cannot stall the accept loop."""
    daemon_threads = True

    def __init__(self, addr, handler, ctx):
        self.ctx = ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            request = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(request, client_address)
        finally:
            request.close()


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(CERT, KEY)
    srv = TLSServer((ADDR, PORT), Handler, ctx)
    sys.stderr.write("fakearm: https://%s:%d (%s)\n" % (ADDR, PORT, HOST))
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
