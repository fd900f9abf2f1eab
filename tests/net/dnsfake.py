#!/usr/bin/python3
"""Fake DNS server for the azbprobe test rig: answers that dnsmasq cannot produce.

Usage: /usr/bin/python3 dnsfake.py ADDRESS PORT   (UDP only, runs in the foreground)

Behaviour is chosen by the query name (case-insensitive):
  *.servfail.test    SERVFAIL
  *.refused.test     REFUSED
  *.nx.test          NXDOMAIN (with an SOA, like a real authoritative answer)
  *.nodata.test      NOERROR, empty answer (with an SOA)
  *.drop.test        no reply at all (the client must time out)
  loop1.loop.test / loop2.loop.test   CNAME loop: loop1 -> loop2 -> loop1
  deep.chain.test    20 CNAMEs (deep.chain.test -> c1.chain.test -> ... -> c20.chain.test),
                     the last one has A 203.0.113.10
  c<N>.chain.test    the rest of that chain from hop N
  anything else      REFUSED (we are not a recursive resolver)

dnslib is installed for the Debian system Python only, hence /usr/bin/python3.
"""
import signal
import socket
import sys

from dnslib import A, CNAME, QTYPE, RCODE, RR, SOA, DNSRecord

CHAIN_LEN = 20
CHAIN_ADDR = "203.0.113.10"
TTL = 60


def soa(zone):
    return RR(zone, QTYPE.SOA, ttl=TTL,
              rdata=SOA("ns1." + zone, "hostmaster." + zone, (1, 3600, 600, 86400, 60)))


def chain_from(hop, qtype, reply):
    """Append the chain starting at hop (0 = deep.chain.test) to reply."""
    name = "deep.chain.test." if hop == 0 else "c%d.chain.test." % hop
    for n in range(hop + 1, CHAIN_LEN + 1):
        nxt = "c%d.chain.test." % n
        reply.add_answer(RR(name, QTYPE.CNAME, ttl=TTL, rdata=CNAME(nxt)))
        name = nxt
    if qtype in (QTYPE.A, QTYPE.ANY):
        reply.add_answer(RR(name, QTYPE.A, ttl=TTL, rdata=A(CHAIN_ADDR)))


def answer(request):
    """Return the reply record, or None to stay silent."""
    q = request.q
    qname = str(q.qname).lower()
    reply = request.reply()          # sets QR, copies id and question, RA=1 AA=1
    if qname.endswith(".drop.test."):
        return None
    if qname.endswith(".servfail.test."):
        reply.header.rcode = RCODE.SERVFAIL
    elif qname.endswith(".refused.test."):
        reply.header.rcode = RCODE.REFUSED
    elif qname.endswith(".nx.test."):
        reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(soa("nx.test."))
    elif qname.endswith(".nodata.test."):
        reply.add_auth(soa("nodata.test."))
    elif qname in ("loop1.loop.test.", "loop2.loop.test."):
        other = "loop2.loop.test." if qname.startswith("loop1") else "loop1.loop.test."
        reply.add_answer(RR(qname, QTYPE.CNAME, ttl=TTL, rdata=CNAME(other)))
        reply.add_answer(RR(other, QTYPE.CNAME, ttl=TTL, rdata=CNAME(qname)))
    elif qname == "deep.chain.test.":
        chain_from(0, q.qtype, reply)
    elif qname.startswith("c") and qname.endswith(".chain.test.") \
            and qname[1:-len(".chain.test.")].isdigit() \
            and 1 <= int(qname[1:-len(".chain.test.")]) <= CHAIN_LEN:
        chain_from(int(qname[1:-len(".chain.test.")]), q.qtype, reply)
    else:
        reply.header.rcode = RCODE.REFUSED
    return reply


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: dnsfake.py ADDRESS PORT\n")
        return 2
    addr, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    # Exit quietly on SIGTERM (rig.sh down).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("dnsfake listening on %s:%d" % (addr, port), flush=True)
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            request = DNSRecord.parse(data)
        except Exception as exc:  # garbage must never stop the server
            print("unparsable query from %s: %s" % (peer, exc), flush=True)
            continue
        reply = answer(request)
        print("%s %s %s -> %s" % (peer[0], request.q.qname, QTYPE.get(request.q.qtype),
                                  "no reply" if reply is None
                                  else RCODE.get(reply.header.rcode)), flush=True)
        if reply is not None:
            sock.sendto(reply.pack(), peer)


if __name__ == "__main__":
    sys.exit(main())
