"""A stand-in AWS JSON endpoint on 127.0.0.1 for the fault tests: each POST is answered by a function of the
operation's X-Amz-Target and the request body, as AWS's JSON protocol carries them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (target, body) -> (status, content type, response body)
Respond = Callable[[str, bytes], tuple[int, str, bytes]]


@contextmanager
def aws_endpoint(respond: Respond) -> Iterator[str]:
    """Serves `respond` until the block ends; yields the endpoint URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, content_type, answer = respond(self.headers.get("X-Amz-Target", ""), body)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
