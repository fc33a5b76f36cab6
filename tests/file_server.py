"""A small HTTP server on 127.0.0.1 for the import tests: serves fixed answers, records every connection and
request, and stops by itself when its `with` block ends (slow answers wait at most a few seconds)."""

import http.server
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Answer:
    body: bytes = b""
    status: int = 200
    headers: dict = field(default_factory=dict)
    # Seconds to wait before answering (bounded by the server's stop).
    delay: float = 0.0
    # Seconds between bytes: the answer is sent one byte at a time, from its body (or, with `drip_headers`, from
    # a long header line before it) until the body ends or the server stops.
    drip: float = 0.0
    drip_headers: bool = False


@dataclass
class FileServer:
    url: str
    routes: dict
    connections: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    # Bytes sent by dripping answers, and how many of them the client hung up on.
    dripped: int = 0
    hung_up: int = 0

    def add(self, path: str, answer: Answer | bytes) -> str:
        self.routes[path] = answer if isinstance(answer, Answer) else Answer(answer)
        return self.url + path


@contextmanager
def file_server(routes: dict | None = None):
    """Yields a FileServer whose `routes` map paths to Answers (a path not there answers 404)."""
    server_state: dict = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            served.connections.append(self.client_address)
            super().setup()

        def do_GET(self):
            served.requests.append(self.path)
            answer = served.routes.get(self.path.split("?")[0])
            if answer is None:
                answer = Answer(b"<html>not here</html>", status=404, headers={"Content-Type": "text/html"})
            if answer.delay and served.stopping.wait(answer.delay):
                return
            if answer.drip:
                self.drip(answer)
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            try:
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def drip(self, answer: Answer):
            self.close_connection = True
            head = f"HTTP/1.1 {answer.status} OK\r\nContent-Length: {len(answer.body)}\r\n".encode()
            slow = answer.body
            if answer.drip_headers:
                slow = b"X-Slow: " + b"a" * 4096 + b"\r\n\r\n" + slow
            else:
                head += b"\r\n"
            try:
                self.wfile.write(head)
                for n in range(len(slow)):
                    self.wfile.write(slow[n : n + 1])
                    served.dripped += 1
                    if served.stopping.wait(answer.drip):
                        return
            except (BrokenPipeError, ConnectionResetError):
                served.hung_up += 1

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_state["server"] = server
    served = FileServer(url=f"http://127.0.0.1:{server.server_address[1]}", routes={
        path: (answer if isinstance(answer, Answer) else Answer(answer)) for path, answer in (routes or {}).items()
    })
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def connection_spy(monkeypatch, *, allow_loopback_ports: tuple[int, ...] = ()):
    """Records every outgoing TCP connect of this process; only loopback connections to the given ports go through.

    Anything else is refused before a packet leaves, so a test can prove that no connection was even tried.
    """
    attempts: list = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        attempts.append(address)
        host, port = address[0], address[1]
        if host in {"127.0.0.1", "::1"} and port in allow_loopback_ports:
            return real_connect(sock, address)
        raise ConnectionRefusedError(f"connection_spy refused {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    try:
        yield attempts
    finally:
        monkeypatch.setattr(socket.socket, "connect", real_connect)
