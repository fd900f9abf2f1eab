#!/usr/bin/python3
"""A minimal DHCP client for the rig's self-test, and the pcap reader for the DHCP tests.

    ip netns exec VM_NS /usr/bin/python3 tests/net/dhcpc.py discover vm0 [--flags 0x8000]
        [--timeout 3] [--request] [--no-wait]

sends one DISCOVER the way azbprobe does (raw Ethernet frame through an AF_PACKET socket on the
interface: IPv4 0.0.0.0 -> 255.255.255.255, UDP 68 -> 67, chaddr = the interface's MAC, no option
55) and prints, as JSON, every BOOTREPLY with the same xid seen on the interface before the
timeout. With --request it goes on like a client would (REQUEST -> ACK, then RELEASE), still
through raw frames, so the interface's address and routes never change. Needs CAP_NET_RAW.

As a module: build/parse DHCP packets (parse_frame) and read pcap files (read_pcap), for the
packet-discipline tests. Only the standard library.
"""
import json
import os
import select
import socket
import struct
import sys
import time

COOKIE = b"\x63\x82\x53\x63"
MSG_TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
             7: "RELEASE", 8: "INFORM"}
ETH_P_IP = 0x0800


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def ip_checksum(hdr):
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def bootp(op, xid, mac, flags=0, ciaddr="0.0.0.0", options=()):
    """A BOOTP/DHCP message: 236-byte header, cookie, options (code, bytes), END, padded to 300."""
    hdr = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, 1, 6, 0, xid, 0, flags,
                      socket.inet_aton(ciaddr), bytes(4), bytes(4), bytes(4),
                      mac + bytes(10), bytes(64), bytes(128))
    opts = b"".join(bytes([c, len(v)]) + v for c, v in options) + b"\xff"
    msg = hdr + COOKIE + opts
    return msg + bytes(max(0, 300 - len(msg)))


def frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload):
    """Ethernet + IPv4 (checksummed) + UDP (checksum 0, legal on IPv4) around payload."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), int.from_bytes(os.urandom(2), "big"),
                     0, 64, 17, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + udp


def parse_options(data):
    """{code: bytes} (the last occurrence wins) from the option area; stops at END or truncation."""
    opts = {}
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(data):
            break
        n = data[i + 1]
        if i + 2 + n > len(data):
            break
        opts[code] = data[i + 2:i + 2 + n]
        i += 2 + n
    return opts


def parse_bootp(msg):
    if len(msg) < 240 or msg[236:240] != COOKIE:
        return None
    op, _htype, hlen, _hops, xid, secs, flags = struct.unpack("!BBBBIHH", msg[:12])
    opts = parse_options(msg[240:])
    mt = opts.get(53, b"")
    return {
        "op": op, "xid": xid, "secs": secs, "flags": flags,
        "ciaddr": socket.inet_ntoa(msg[12:16]), "yiaddr": socket.inet_ntoa(msg[16:20]),
        "siaddr": socket.inet_ntoa(msg[20:24]), "giaddr": socket.inet_ntoa(msg[24:28]),
        "chaddr": mac_str(msg[28:28 + min(hlen, 16)]),
        "options": opts,
        "msg_type": MSG_TYPES.get(mt[0], str(mt[0])) if len(mt) == 1 else None,
        "length": len(msg),
    }


def parse_frame(fr):
    """An Ethernet frame -> dict (eth, IPv4, UDP and DHCP fields), or None if it is not DHCP."""
    if len(fr) < 14 + 20 + 8 or struct.unpack("!H", fr[12:14])[0] != ETH_P_IP:
        return None
    ip = fr[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8:
        return None
    sport, dport, ulen = struct.unpack("!HHH", ip[ihl:ihl + 6])
    if {sport, dport} & {67, 68} == set():
        return None
    d = parse_bootp(ip[ihl + 8:ihl + ulen] if ulen >= 8 else b"")
    if d is None:
        return None
    d.update({"eth_src": mac_str(fr[6:12]), "eth_dst": mac_str(fr[0:6]),
              "ip_src": socket.inet_ntoa(ip[12:16]), "ip_dst": socket.inet_ntoa(ip[16:20]),
              "sport": sport, "dport": dport, "frame_len": len(fr)})
    return d


def read_pcap(path):
    """[(timestamp, frame bytes)] from a classic pcap file (either byte order, us or ns);
    Ethernet link type only. A truncated last record (capture killed mid-write) is dropped."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("%s: no pcap header (%d bytes)" % (path, len(data)))
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("%s: not a pcap file (magic %s)" % (path, magic.hex()))
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError("%s: link type %d, want 1 (Ethernet)" % (path, linktype))
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break
        out.append((sec + frac / (1e9 if nano else 1e6), data[off:off + incl]))
        off += incl
    return out


def dhcp_packets(path):
    """The DHCP messages of a pcap file, each parse_frame's dict plus "ts"."""
    out = []
    for ts, fr in read_pcap(path):
        d = parse_frame(fr)
        if d is not None:
            d["ts"] = ts
            out.append(d)
    return out


# ------------------------------------------------------------------ the client

def jsonable(d):
    d = dict(d)
    d["options"] = {str(k): v.hex() for k, v in sorted(d["options"].items())}
    d["xid"] = "%08x" % d["xid"]
    return d


class Client:
    def __init__(self, iface):
        self.iface = iface
        with open("/sys/class/net/%s/address" % iface) as f:
            self.mac = mac_bytes(f.read().strip())
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.sock.bind((iface, ETH_P_IP))
        self.client_id = b"\x01" + self.mac

    def send(self, msg, src_ip="0.0.0.0", dst_ip="255.255.255.255", dst_mac=b"\xff" * 6):
        self.sock.send(frame(self.mac, dst_mac, src_ip, dst_ip, 68, 67, msg))

    def replies(self, xid, timeout, want=None):
        """BOOTREPLYs with xid until timeout (or until the first of type want)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return out
            fr, addr = self.sock.recvfrom(4096)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            d = parse_frame(fr)
            if d is None or d["op"] != 2 or d["xid"] != xid or d["dport"] != 68:
                continue
            d["elapsed_ms"] = int((time.monotonic() - (deadline - timeout)) * 1000)
            out.append(d)
            if want is not None and d["msg_type"] == want:
                return out


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="dhcpc.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("discover")
    p.add_argument("iface")
    p.add_argument("--flags", type=lambda s: int(s, 0), default=0x8000)
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--request", action="store_true", help="REQUEST the offer, then RELEASE it")
    p.add_argument("--no-wait", action="store_true", help="return at the first OFFER")
    p = sub.add_parser("pcap")
    p.add_argument("file")
    args = ap.parse_args(argv)

    if args.cmd == "pcap":
        print(json.dumps([jsonable(d) for d in dhcp_packets(args.file)], indent=1))
        return 0

    c = Client(args.iface)
    xid = int.from_bytes(os.urandom(4), "big")
    c.send(bootp(1, xid, c.mac, args.flags, options=[(53, b"\x01"), (61, c.client_id)]))
    got = c.replies(xid, args.timeout, want="OFFER" if (args.no_wait or args.request) else None)
    result = {"xid": "%08x" % xid, "mac": mac_str(c.mac), "replies": [jsonable(d) for d in got]}
    offer = next((d for d in got if d["msg_type"] == "OFFER"), None)
    if args.request and offer is not None:
        server = offer["options"].get(54, b"")
        c.send(bootp(1, xid, c.mac, args.flags, options=[
            (53, b"\x03"), (50, socket.inet_aton(offer["yiaddr"])), (54, server), (61, c.client_id)]))
        acks = c.replies(xid, args.timeout, want="ACK")
        result["request_replies"] = [jsonable(d) for d in acks]
        ack = next((d for d in acks if d["msg_type"] == "ACK"), None)
        if ack is not None:
            # RELEASE: unicast from the leased address to the server, which drops the lease.
            rel = int.from_bytes(os.urandom(4), "big")
            c.send(bootp(1, rel, c.mac, 0, ciaddr=ack["yiaddr"], options=[
                (53, b"\x07"), (54, server), (61, c.client_id)]),
                src_ip=ack["yiaddr"], dst_ip=socket.inet_ntoa(server), dst_mac=mac_bytes(ack["eth_src"]))
            result["released"] = ack["yiaddr"]
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
