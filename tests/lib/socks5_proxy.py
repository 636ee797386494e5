#!/usr/bin/env python3
"""A SOCKS5 proxy (RFC 1928: CONNECT, no authentication or RFC 1929
username/password) for the tests: socks5_proxy.py PORT LOG [USER:PASSWORD].
Each CONNECT's target and user is appended to LOG."""
import socket
import struct
import sys
import threading


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def relay(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, log, login):
    try:
        ver, n = recv_exact(client, 2)
        methods = recv_exact(client, n)
        method = 2 if login else 0
        if ver != 5 or method not in methods:
            client.sendall(b"\x05\xff")
            return
        client.sendall(bytes([5, method]))
        user = "-"
        if login:
            recv_exact(client, 1)
            user = recv_exact(client, recv_exact(client, 1)[0]).decode()
            password = recv_exact(client, recv_exact(client, 1)[0]).decode()
            if f"{user}:{password}" != login:
                client.sendall(b"\x01\x01")
                return
            client.sendall(b"\x01\x00")
        ver, cmd, _, atyp = recv_exact(client, 4)
        if atyp == 1:
            host = socket.inet_ntoa(recv_exact(client, 4))
        elif atyp == 3:
            host = recv_exact(client, recv_exact(client, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, recv_exact(client, 16))
        port = struct.unpack("!H", recv_exact(client, 2))[0]
        if cmd != 1:
            client.sendall(b"\x05\x07\x00\x01" + bytes(6))
            return
        upstream = socket.create_connection((host, port))
        with open(log, "a") as f:
            f.write(f"CONNECT {host}:{port} user {user}\n")
        client.sendall(b"\x05\x00\x00\x01" + bytes(6))
        threading.Thread(target=relay, args=(upstream, client), daemon=True).start()
        relay(client, upstream)
    except (OSError, ConnectionError):
        client.close()


def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    login = sys.argv[3] if len(sys.argv) > 3 else ""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    while True:
        client, _ = server.accept()
        threading.Thread(target=serve, args=(client, log, login), daemon=True).start()


if __name__ == "__main__":
    main()
