"""A web server on 127.0.0.1 that plays a pair's VIP for the drill's tests: each GET
answers the member name `answer()` returns, or 503 when it returns None."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable


class MemberPages:
    """`keep_alive`: HTTP/1.1 with persistent connections (the prober's --persistent)."""

    def __init__(self, answer: Callable[[], str | None], keep_alive: bool = False) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self) -> None:
                member = answer()
                if member is None:
                    self.send_error(503)
                    return
                body = f"{member}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
