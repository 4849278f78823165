"""A TCP proxy on loopback that delays every reply: what a Redis server farther away looks like.

    python3 delay_proxy.py LISTEN_PORT SERVER_PORT DELAY_SECONDS

Bytes from the client go to the server at once; each chunk the server sends back waits DELAY_SECONDS first.
"""
import socket
import sys
import threading
import time


def pipe(source, destination, delay):
    """Copies source to destination until source closes, waiting `delay` seconds before each chunk."""
    try:
        while data := source.recv(65536):
            if delay:
                time.sleep(delay)
            destination.sendall(data)
    except OSError:
        pass
    finally:
        try:
            destination.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    listen_port, server_port, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(16)
    while True:
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", server_port))
        for end in (client, server):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pipe, args=(client, server, 0), daemon=True).start()
        threading.Thread(target=pipe, args=(server, client, delay), daemon=True).start()


if __name__ == "__main__":
    main()
