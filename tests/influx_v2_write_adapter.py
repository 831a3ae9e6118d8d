"""TEST-ONLY HTTP adapter: lets the real influxdb-client (which writes to the v2
endpoint /api/v2/write) talk to Debian's InfluxDB 1.6.7 (which serves only the
1.x /write). It forwards

    POST /api/v2/write?bucket=B&precision=P  ->  POST /write?db=B&precision=P'
    GET|POST /query, GET /ping               ->  passed through

with P mapped (ns->n, us->u, ms->ms, s->s) and the body untouched. When influxd
is down it answers 503, as a reverse proxy in front of InfluxDB would. It counts
the line-protocol lines of every write the engine acknowledged, so a test can
tell how many points were actually sent, not only how many are stored.

It is the only stand-in in the test suite; it is not shipped."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}


class InfluxV2WriteAdapter:
    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self.port = port
        self.lines_acknowledged = 0
        self.writes_acknowledged = 0
        self.writes_failed = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                adapter._handle(self, "POST")

            def do_GET(self) -> None:
                adapter._handle(self, "GET")

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="influx-adapter", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(req.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        headers = {
            k: v
            for k, v in req.headers.items()
            if k.lower() in ("content-type", "content-encoding", "accept")
        }
        if url.path == "/api/v2/write" and method == "POST":
            bucket = params.get("bucket")
            if not bucket:
                return self._reply(req, 400, {"code": "invalid", "message": "bucket is required"})
            precision = PRECISION.get(params.get("precision", "ns"))
            if precision is None:
                return self._reply(req, 400, {"code": "invalid", "message": "bad precision"})
            target = "/write?" + urllib.parse.urlencode({"db": bucket, "precision": precision})
        elif url.path in ("/query", "/ping"):
            target = req.path
        else:
            return self._reply(
                req, 404, {"code": "not found", "message": f"{url.path} is not adapted"}
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError as exc:
            with self._lock:
                self.writes_failed += url.path == "/api/v2/write"
            return self._reply(
                req, 503, {"code": "unavailable", "message": f"influxd unreachable: {exc}"}
            )
        if url.path == "/api/v2/write":
            with self._lock:
                if 200 <= resp.status < 300:
                    self.writes_acknowledged += 1
                    self.lines_acknowledged += sum(1 for line in body.split(b"\n") if line.strip())
                else:
                    self.writes_failed += 1
            if (
                resp.status >= 400
            ):  # 1.x says {"error": ...}; the v2 client reads {"code", "message"}
                try:
                    message = json.loads(data).get("error", "")
                except ValueError:
                    message = data.decode(errors="replace")
                return self._reply(req, resp.status, {"code": "invalid", "message": message})
        req.send_response(resp.status)
        for key in ("Content-Type", "X-Influxdb-Version", "X-Influxdb-Build"):
            if resp.getheader(key):
                req.send_header(key, resp.getheader(key) or "")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, doc: dict[str, str]) -> None:
        data = json.dumps(doc).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)
