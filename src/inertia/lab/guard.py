"""What keeps the lab a local service that another web page cannot use: every request must name a host the lab
serves (a page on another site that rebinds its name to this machine sends its own name, and is refused), and
every ``/api/`` request must come from the lab's own page: the same origin, and the page's token (a random
string in the page, which no other site can read). Each refusal is one sentence, status 403."""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def hostname(host: str) -> str:
    """The name in a ``Host`` header or an origin's authority, without the port: ``[::1]:8765`` → ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware in front of the lab's app. ``hosts``: the names it answers to (``None``: any, when it
    was asked to serve the network); ``token``: what the page sends with each ``/api/`` request, as the
    ``X-Inertia-Token`` header or the ``token`` query parameter (an ``EventSource`` cannot set headers)."""

    def __init__(self, app, hosts: tuple[str, ...] | None, token: str | None = None):
        self.app, self.hosts = app, None if hosts is None else {h.lower() for h in hosts}
        self.token = token or secrets.token_urlsafe(24)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                body = json.dumps({"error": refusal}).encode()
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def refusal(self, scope) -> str | None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host", "")
        if self.hosts is not None and hostname(host) not in self.hosts:
            return (f"this lab answers requests for {', '.join(sorted(self.hosts))}, not for {host or 'no host'!r}: "
                    "open it at the address `inertia lab` printed")
        if not scope["path"].startswith("/api/"):
            return None
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return f"requests from {origin} are not accepted: only the lab's own page may use its API"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = headers.get("x-inertia-token") or (query.get("token") or [""])[0]
        if not secrets.compare_digest(token, self.token):
            return "this request did not come from the lab's page (its token is missing or wrong): reload the page"
        return None
