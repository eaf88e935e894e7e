"""HEAD answered wherever GET is: the GET's status and headers, no body.

FastAPI's APIRoute takes only the methods it is declared with (Starlette's own Route adds HEAD to
a GET, APIRoute does not), so a HEAD on any API route was a 405, and health checks that probe with
HEAD failed. This pure ASGI middleware (BaseHTTPMiddleware would buffer every response through a
task and a stream) routes a HEAD as a GET and passes on the response start untouched, so the
headers are exactly the GET's, `content-length` included: RFC 9110 9.3.2 lets a HEAD carry the
length the GET's body would have. Every body message is swallowed and replaced by one empty final
body, so nothing of the GET's body leaves (also in-process, where no server strips it).

Where it sits (services.api.main): inside the metrics middleware, which so records the method the
client sent (HEAD; health checks stay apart from real reads) with the route the GET matched;
outside the body limit and the bulk-upload admission, which see a GET (neither treats GET and HEAD
differently). The security headers are added around everything, by path, so HEAD and GET get the
same ones. A HEAD whose GET is not a route gets the GET's answer: 404, or 405 whose Allow (see
services.api.allow) lists HEAD only where GET is listed.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # A copy: the server keeps its own scope saying HEAD, so it still sends no body of its own
        # accord (uvicorn drops a HEAD's body and would refuse a GET whose body is shorter than its
        # content-length, which is what this middleware sends).
        get_scope = {**scope, "method": "GET"}
        finished = False

        async def send_headers_only(message: Message) -> None:
            nonlocal finished
            kind = message["type"]
            if kind == "http.response.start":
                await send(message)
            elif kind in ("http.response.body", "http.response.pathsend"):
                # pathsend (a file response where the server offers it) is a whole body in one message.
                last = kind == "http.response.pathsend" or not message.get("more_body", False)
                if last and not finished:
                    finished = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send(message)  # anything else (e.g. trailers, if ever asked for) as is

        try:
            await self.app(get_scope, receive, send_headers_only)
        finally:
            # Routing records what it matched (route, endpoint, path parameters) in the scope it was
            # given, the copy; the metrics middleware outside reads the route from its own scope.
            for key, value in get_scope.items():
                if key != "method":
                    scope[key] = value
