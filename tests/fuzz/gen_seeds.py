#!/usr/bin/env python3
"""Regenerate the seed corpora in tests/fuzz/corpus/ from tests/fixtures/leases/ and synthetic
variants. Run from the repository root: python3 tests/fuzz/gen_seeds.py"""
import os
import struct

FIX = "tests/fixtures/leases"
OUT = "tests/fuzz/corpus"


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def checksum(hdr):
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(dhcp, ip_opts=b"", vlan=False):
    ihl = (20 + len(ip_opts)) // 4
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(ip_opts) + 8 + len(dhcp), 0, 0, 64, 17, 0,
                     bytes([168, 63, 129, 16]), b"\xff" * 4) + ip_opts
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", 67, 68, 8 + len(dhcp), 0)
    eth = b"\xff" * 6 + bytes([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc])
    eth += (b"\x81\x00\x00\x05" if vlan else b"") + b"\x08\x00"
    return eth + ip + udp + dhcp


def reply(options, xid=0x01020304):
    hdr = bytearray(240)
    hdr[0:4] = bytes([2, 1, 6, 0])
    hdr[4:8] = struct.pack("!I", xid)
    hdr[16:20] = bytes([10, 0, 1, 4])
    hdr[28:34] = bytes([0x00, 0x0d, 0x3a, 1, 2, 3])
    hdr[236:240] = bytes([99, 130, 83, 99])
    return bytes(hdr) + bytes(options)


def dhcp_seeds():
    offer = fixture("dhcp")
    put("dhcp", "azure_offer", offer)
    put("dhcp", "azure_offer_frame", frame(offer))
    put("dhcp", "azure_offer_frame_ipopts_vlan", frame(offer, b"\x01" * 4, True))
    put("dhcp", "azure_offer_cut_240", offer[:240])
    put("dhcp", "azure_offer_cut_in_245", offer[:0x103])
    put("dhcp", "azure_offer_cut_frame", frame(offer)[:200])
    put("dhcp", "azure_offer_oversized", offer + bytes(range(256)) * 4)
    put("dhcp", "azure_offer_oversized_frame", frame(offer + b"\x00" * 1000))
    base = [53, 1, 2, 54, 4, 168, 63, 129, 16, 3, 4, 10, 0, 1, 1, 51, 4, 0, 0, 14, 16]
    w245 = [245, 4, 168, 63, 129, 16]
    routes = [121, 28, 0, 10, 0, 1, 1, 32, 168, 63, 129, 16, 10, 0, 1, 1, 16, 10, 1, 10, 0, 1, 254,
              12, 172, 16, 10, 0, 1, 1]
    put("dhcp", "synthetic_245_121", reply(base + w245 + routes + [255]))
    put("dhcp", "pad_runs", reply([0] * 9 + base + [0] * 3 + w245 + [0, 0, 255]))
    put("dhcp", "no_end", reply(base + w245))
    put("dhcp", "len3_245", reply(base + [245, 3, 168, 63, 129, 255]))
    put("dhcp", "len5_245", reply(base + [245, 5, 168, 63, 129, 16, 1, 255]))
    put("dhcp", "overrun", reply(base + [15, 200, 97, 98]))
    put("dhcp", "overload", reply(base + [52, 1, 3] + w245 + [255]))
    put("dhcp", "domain_binary", reply(base + [15, 6, 97, 0, 7, 200, 98, 0, 255]))
    disc = bytearray(300)
    disc[0:3] = bytes([1, 1, 6])
    disc[4:8] = bytes([0xde, 0xad, 0xbe, 0xef])
    disc[10] = 0x80
    disc[28:34] = bytes([0x00, 0x0d, 0x3a, 1, 2, 3])
    disc[236:244] = bytes([99, 130, 83, 99, 53, 1, 1, 255])
    put("dhcp", "discover", bytes(disc))


DHCLIENT_FORMS = [
    ("single_digit", "lease {\n  interface \"eth0\";\n  option unknown-245 a:0:1:2;\n  expire 4 2150/01/01 00:00:00;\n}\n"),
    ("quoted", "lease {\n  interface \"eth0\";\n  option unknown-245 \"dA\\`b\";\n  expire never;\n}\n"),
    ("quoted_octal", "lease {\n  option unknown-245 \"\\144A`\\142\";\n  expire 0 never;\n}\n"),
    ("named", "option azure-wireserver code 245 = ip-address;\nlease {\n  interface \"eth0\";\n"
              "  option azure-wireserver 168.63.129.16;\n  expire epoch 1900000000; # Thu\n}\n"),
    ("openbsd", "lease {\n  interface \"hvn0\";\n  option option-245 a8:3f:81:10;\n  expire 2 2024/01/02 03:04:05;\n}\n"),
    ("lease6_and_crlf", "lease6 {\r\n  ia-na a {\r\n    option unknown-245 a8:3f:81:10;\r\n  }\r\n}\r\n"
                        "lease {\r\n  option unknown-245 a8:3f:81:10:11;\r\n}"),
]


def lease_seeds():
    for name in ["dhcp.leases", "dhcp.leases.custom.dns", "dhcp.leases.multi"]:
        put("lease_dhclient", name, fixture(name))
    for name, text in DHCLIENT_FORMS:
        put("lease_dhclient", name, text)
    put("lease_networkd", "networkd-lease-2", fixture("networkd-lease-2"))
    put("lease_networkd", "upper_hex", "# This is private data. Do not parse.\nADDRESS=10.0.0.4\nOPTION_245=A83F8110")
    put("lease_networkd", "bad_len", "OPTION_245=a83f81\r\nOPTION_224=00\n")
    put("lease_nm", "address_only", "# This is private data. Do not parse.\nADDRESS=10.0.0.4\n")
    put("lease_nm", "private_245", "ADDRESS=10.0.0.4\nPRIVATE_245=a8:3f:81:10\n")
    put("lease_nm", "dhcp4_private_245", "DHCP4_PRIVATE_245='a:3e:90:8c'\nDHCP4_UNKNOWN_245=168.63.129.16\n")
    put("lease_nm", "option_245", "OPTION_245=a83f8110\n")
    put("lease_nm", "endpoint", "168.63.129.16")
    put("lease_nm", "endpoint_newline", "168.63.129.16\n")


if __name__ == "__main__":
    dhcp_seeds()
    lease_seeds()
