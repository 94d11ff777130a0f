"""Validation targets for the tests: a plain HTTP server whose answers per path the test sets
(http-01), counting the requests it gets."""
import http.server
import threading


class HTTPTarget:
    """http.server on 127.0.0.1 (port chosen by the OS). routes[path] = (status, body bytes,
    headers dict); anything else is 404. hits[path] counts requests."""

    def __init__(self, host="127.0.0.1"):
        target = self
        self.routes = {}
        self.hits = {}
        self.delay = {}   # path -> threading.Event the handler waits for before answering
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with target.lock:
                    target.hits[self.path] = target.hits.get(self.path, 0) + 1
                    route = target.routes.get(self.path)
                    ev = target.delay.get(self.path)
                if ev is not None:
                    ev.wait(60)
                status, body, headers = route or (404, b"not found", {})
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the validator gave up or died: that is the test's business

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, path, body, status=200, headers=None):
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.routes[path] = (status, body, headers or {})

    def challenge(self, token, body, status=200, headers=None):
        path = "/.well-known/acme-challenge/" + token
        self.set(path, body, status, headers)
        return path

    def redirect(self, path, location, status=302):
        self.set(path, b"", status, {"Location": location})

    def count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def close(self):
        self.server.shutdown()
