"""The viewer's HTTP server: the standard library's ThreadingHTTPServer on 127.0.0.1.

Routes: ``/`` (the item list, filtered by the query string of
:class:`judge.view.filters.ItemFilter`) and ``/item?run=RUN&id=ITEM[&from=Q]``
(every sample of the item; ``from``: the list's query string, for the link back).
Only GET; only the loopback address; requests whose ``Host`` is not this server's
loopback address are refused (a web page elsewhere cannot read the viewer through DNS
rebinding); every response forbids scripts and outside resources
(Content-Security-Policy).
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from judge.errors import ConfigError, JudgeError
from judge.view.data import ViewData
from judge.view.filters import DEFAULT_VIEWER_URL, ItemFilter
from judge.view.pages import error_page, item_page, list_page

HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = int(DEFAULT_VIEWER_URL.rsplit(":", 1)[1])
"""8765: where report links point by default (``judge report --viewer-url``)."""

SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ViewServer(ThreadingHTTPServer):
    """A threading HTTP server holding the open runs."""

    daemon_threads = True

    def __init__(self, data: ViewData, port: int) -> None:
        self.data = data
        super().__init__((HOST, port), _Handler)

    @property
    def url(self) -> str:
        """The viewer's base URL (``http://127.0.0.1:PORT``)."""
        return f"http://{HOST}:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ViewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not a line per page."""

    def _send(self, status: HTTPStatus, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        host = (self.headers.get("Host") or "").strip().lower()
        return host in {f"{HOST}:{port}", f"localhost:{port}"}

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        data = self.server.data
        if not self._host_ok():
            self._send(HTTPStatus.FORBIDDEN, error_page(data.runs, "unexpected Host header"))
            return
        parts = urlsplit(self.path)
        params = parse_qs(parts.query, keep_blank_values=True)
        try:
            if parts.path in ("/", "/index.html"):
                f = ItemFilter.from_query(params)
                focus = data.run_index(f.run)
                result = data.list_items(f)
                body = list_page(data.runs, f, focus, result, data.categories(focus))
            elif parts.path == "/item":
                item_id = _single(params, "id")
                if item_id is None:
                    raise ConfigError("/item needs ?id=ITEM_ID")
                view = data.item(_single(params, "run"), item_id)
                body = item_page(data.runs, view, _single(params, "from"))
            elif parts.path == "/favicon.ico":
                self.send_response(HTTPStatus.NO_CONTENT)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            else:
                self._send(HTTPStatus.NOT_FOUND, error_page(data.runs, f"no page {parts.path}"))
                return
        except JudgeError as exc:
            self._send(HTTPStatus.BAD_REQUEST, error_page(data.runs, str(exc)))
            return
        self._send(HTTPStatus.OK, body)

    def _refuse(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, error_page(self.server.data.runs, "read-only"))

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise ConfigError(f"query parameter {name!r} is given {len(values)} times")
    return values[0] if values and values[0] != "" else None


def bind(data: ViewData, port: int | None = None) -> ViewServer:
    """A server over ``data`` on 127.0.0.1: ``port``, or (``None``) the default port 8765
    when it is free, else any free port."""
    if port is not None:
        try:
            return ViewServer(data, port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} is in use; pick another or leave --port out"
                ) from exc
            raise
    try:
        return ViewServer(data, DEFAULT_PORT)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
    return ViewServer(data, 0)


def serve(
    run_dirs: Sequence[str | Path],
    *,
    port: int | None = None,
    open_browser: bool = True,
    echo: Callable[[str], None] = print,
    ready: threading.Event | None = None,
) -> None:
    """Open ``run_dirs``, serve them until interrupted, then close everything."""
    started = time.perf_counter()
    data = ViewData(run_dirs)
    try:
        server = bind(data, port)
        with server:
            judgments = sum(r.n_judgments for r in data.runs)
            echo(
                f"opened {len(data.runs)} run(s), {judgments:,} judgments, in "
                f"{time.perf_counter() - started:.1f} s"
            )
            echo(f"judge view: {server.url}/  (Ctrl-C to stop)")
            if port is None and server.server_address[1] != DEFAULT_PORT:
                echo(
                    f"note: port {DEFAULT_PORT} was busy; report links point there unless the "
                    f"report is written with --viewer-url {server.url}"
                )
            if open_browser:
                threading.Thread(
                    target=webbrowser.open, args=(server.url + "/",), daemon=True
                ).start()
            if ready is not None:
                ready.set()
            try:
                server.serve_forever(poll_interval=0.2)
            except KeyboardInterrupt:
                echo("stopped")
    finally:
        data.close()


def free_port() -> int:
    """A port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":  # pragma: no cover - `judge view` is the entry point
    serve(sys.argv[1:])
