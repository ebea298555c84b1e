"""A local HTTP receiver for notification tests: records every POST (path and JSON body) and answers
200, or an error for the next few requests on demand. It stands in for Slack, Discord, a user's webhook
and Telegram's Bot API alike."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with receiver._lock:
                    status = receiver._failures.pop(0) if receiver._failures else 200
                    if status == 200:
                        receiver.received.append((self.path, body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"ok": false}')

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def fail_next(self, times: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
