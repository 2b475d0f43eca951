"""A small TCP relay for the services tests: the code under test reaches the shared MLflow server through it, and
the test closes it (connections refused, open ones cut) and opens it again, so that a server going away is tried
without ever stopping the shared server itself."""

from __future__ import annotations

import socket
import threading


class Relay:
    """127.0.0.1:port -> target, until ``close``; ``open`` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.listener: socket.socket | None = None
        self.open_sockets: list[socket.socket] = []

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.target)
            self.open_sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with_shutdown(s)

    def close(self) -> None:
        if self.listener is not None:
            # shutdown first: a bare close leaves the accept() blocked in the other thread listening (Linux), and
            # the next connection would still get through
            with_shutdown(self.listener)
            self.listener = None
        for s in self.open_sockets:
            with_shutdown(s)
        self.open_sockets.clear()


def with_shutdown(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
