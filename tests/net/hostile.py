#!/usr/bin/python3
"""A hostile 'storage endpoint' for the rig: a valid certificate, then a response built to hurt.
Port 443: a status line and endless header lines (megabytes): the probe must stop reading.
Port 8443: a status line, then one header byte every 0.2 s forever: the probe must time out.
Port 9443: an SNI-filtering firewall: TCP accepted, the TLS ClientHello read, then a TCP reset
(what Azure Firewall does to a host name no rule allows).
Usage: hostile.py ADDRESS CERT_CHAIN KEY"""
import socket
import ssl
import struct
import sys
import threading
import time


def serve(addr, port, ctx, handler):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=handle, args=(conn, ctx, handler), daemon=True).start()


def handle(conn, ctx, handler):
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(30)
            tls.recv(4096)  # the request
            handler(tls)
    except (OSError, ssl.SSLError):
        pass


def sni_filter(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    while True:
        conn, _ = ls.accept()
        try:
            conn.settimeout(5)
            conn.recv(4096)  # the ClientHello, with its SNI
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        conn.close()  # linger 0: RST, not FIN


def huge_headers(tls):
    tls.sendall(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Filler: " + b"a" * 8000 + b"\r\n"
    for _ in range(1000):  # 8 MB of headers, unless the client hangs up first
        tls.sendall(line)


def slow_sender(tls):
    tls.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(3000):
        tls.sendall(b"a")
        time.sleep(0.2)


def main():
    addr, chain, key = sys.argv[1:4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    threading.Thread(target=serve, args=(addr, 443, ctx, huge_headers), daemon=True).start()
    threading.Thread(target=sni_filter, args=(addr, 9443), daemon=True).start()
    serve(addr, 8443, ctx, slow_sender)


if __name__ == "__main__":
    main()
