"""The API key goes into a request at the last step, out of sight of aiohttp's tracing.

aiohttp shows the URL of each request to its session's trace hooks (``TraceConfig``:
request start, end, exception, headers sent, response chunks) and keeps it in the response
(``url``, ``request_info``) and in the errors it raises; OpenTelemetry's aiohttp
instrumentation exports what those hooks see. So a history request is made with the
redacted URL (``api_key=***``), the one our errors show too, and :class:`KeyMiddleware`,
the innermost client middleware, swaps the key in only while aiohttp writes the request
line. Where the URL goes inside aiohttp 3.14 (read in ``client.py`` / ``client_reqrep.py``):

- ``ClientSession._request`` fires ``on_request_start``, ``on_request_end`` and
  ``on_request_exception`` with its own ``url`` variable, never with one a middleware set;
- the connector (pool, DNS, TLS, a proxy's CONNECT) reads ``req.url`` and puts it in its
  errors ("Connection timeout to host <url>"), so the key is not there yet while it runs;
- ``ClientRequest.send`` builds the request line from ``req.url`` and, in the same step,
  binds ``req.url`` to the ``on_request_headers_sent`` / ``_chunk_sent`` hooks and builds
  the response with ``request_info`` (``req.url``) and the request's traces: so ``send``
  runs with the keyed URL and no traces, then the response gets the redacted
  ``request_info`` and the traces back, and the headers-sent hooks are told with the
  redacted URL. The response's ``url`` comes from ``req.original_url``, never changed.
  The wrapper that does this shadows ``req.send`` for that one request and is removed
  afterwards (no reference cycle is left for the garbage collector).

A check after each send fails closed (a RuntimeError, the answer left unread) should a
future aiohttp build its response otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
from aiohttp import ClientRequest, ClientResponse
from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType
from aiohttp.connector import Connection
from yarl import URL

__all__ = ["KeyMiddleware", "request_middlewares"]


class KeyMiddleware:
    """Adds the key to requests whose URL starts with ``public`` (the redacted fixed part of
    a URL, ending inside its query): that part becomes ``keyed`` on the wire, and nowhere
    else. A URL that does not start so (another host, path or query) is sent as it is."""

    __slots__ = ("_authority", "_keyed_query", "_path", "_public_query", "_scheme", "_size")

    def __init__(self, public: str, keyed: str) -> None:
        url = URL(public, encoded=True)
        self._scheme, self._authority, self._path = url.scheme, url.raw_authority, url.raw_path
        self._public_query = url.raw_query_string
        self._size = len(self._public_query)
        self._keyed_query = URL(keyed, encoded=True).raw_query_string

    def __repr__(self) -> str:  # never the keyed query
        return f"KeyMiddleware({self._scheme}://{self._authority}{self._path}?{self._public_query})"

    def keyed_url(self, url: URL) -> URL | None:
        """``url`` with the key in, as it goes on the wire (None: not a URL of ours)."""
        query = url.raw_query_string
        if not (query.startswith(self._public_query) and url.raw_path == self._path
                and url.raw_authority == self._authority and url.scheme == self._scheme):
            return None
        # Built from parts, no parsing.
        return URL.build(scheme=self._scheme, authority=self._authority, path=self._path,
                         query_string=self._keyed_query + query[self._size:], encoded=True)

    async def __call__(self, req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        url = req.url
        keyed = self.keyed_url(url)
        if keyed is None:
            return await handler(req)
        plain_send = type(req).send

        async def send(conn: Connection) -> ClientResponse:
            traces = req._traces
            req.url, req._traces = keyed, []
            try:
                resp = await plain_send(req, conn)
            finally:
                req.url, req._traces = url, traces
            resp._request_info = req.request_info  # built from the restored URL
            resp._traces = traces
            if resp.request_info.url is not url or resp.real_url is not req.original_url:
                resp.close()
                raise RuntimeError(
                    "adgate_async cannot keep the API key out of this aiohttp version's "
                    f"responses (aiohttp {aiohttp.__version__}); no answer is read"
                )
            for trace in traces:
                await trace.send_request_headers(req.method, url, req.headers)
            return resp

        req.send = send  # type: ignore[method-assign]
        try:
            return await handler(req)
        finally:
            del req.send  # no cycle (req -> send -> req) left for the garbage collector


def request_middlewares(client: aiohttp.ClientSession | None,
                        last: ClientMiddlewareType) -> tuple[ClientMiddlewareType, ...]:
    """The middlewares to pass with each request: those of a caller's aiohttp session first
    (a request's own middlewares replace its session's, so theirs are repeated here), then
    ``last``, nearest the wire, so theirs see the redacted URL too."""
    own: Sequence[ClientMiddlewareType] = () if client is None else client._middlewares
    return (*own, last)

