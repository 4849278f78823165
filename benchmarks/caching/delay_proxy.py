"""A TCP proxy on loopback that delays every reply: what a Redis server farther away looks like.

    python3 delay_proxy.py LISTEN_PORT SERVER_PORT DELAY_SECONDS

Bytes from the client go to the server at once; each chunk the server sends back waits DELAY_SECONDS first.
"""
import socket, threading, time, sys
lport, rport, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def pipe(a, b, d):
    try:
        while True:
            data = a.recv(65536)
            if not data: break
            if d: time.sleep(d)
            b.sendall(data)
    except OSError: pass
    finally:
        try: b.shutdown(socket.SHUT_WR)
        except OSError: pass
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", lport)); s.listen(16)
while True:
    c, _ = s.accept(); u = socket.create_connection(("127.0.0.1", rport))
    for x in (c, u): x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=pipe, args=(c, u, 0), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, delay), daemon=True).start()
