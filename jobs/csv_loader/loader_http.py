"""BatchWriteItem on a short request path: signed by botocore, sent on one connection per thread.

A botocore client spends about 1 ms of CPU on each 25-item BatchWriteItem call, most of
it around the request rather than in it: a dozen event emissions, endpoint-ruleset
parameters, the serializer, request preparation, urllib3's pool and response wrappers,
the response parser and the retry handler. On one vCPU that, not DynamoDB, bounds the
loader. ``DirectBatchWrites`` keeps what makes the call correct and drops the rest:

- **The request is botocore's.** At start-up the client prepares one BatchWriteItem for
  the target table as it always does (endpoint rules, FIPS / dual-stack / account
  endpoints, custom endpoint URL, User-Agent, target and content-type headers), and a
  ``before-send`` hook (botocore's public event system) takes the prepared request
  instead of sending it. Its URL and headers are the template of every call.
- **Signing is botocore's.** Each call is signed once with ``botocore.auth.SigV4Auth``
  (the signer botocore's ``RequestSigner`` uses for DynamoDB), over frozen credentials
  taken from the client's own credentials object on every call, so refreshable
  credentials (container, instance profile, assumed role) refresh as they do in botocore.
- **Errors and retries read as botocore's.** An error response is parsed by botocore's
  JSON parser and raised as the client's own exception class (``ClientError`` with
  ``Error.Code`` and ``ResponseMetadata.HTTPStatusCode``); dropped connections and timeouts
  raise botocore's ``ConnectionClosedError`` / ``EndpointConnectionError`` /
  ``ReadTimeoutError`` / ``SSLError``; a body whose ``x-amz-crc32`` does not match raises
  ``ChecksumError`` (standard mode retries that for DynamoDB). Each call is one attempt:
  the caller (``BatchWriter``) classifies the error with botocore's standard retry rules
  and retries with its own backoff, so there is one retry layer, not two stacked ones. A
  kept-alive connection that turns out closed before any reply is reopened and the request
  resent at once, as HTTP clients do (a put is idempotent).
- **HTTP is a plain HTTP/1.1 exchange on a socket**: one persistent connection per writer
  thread (each lane has one call in flight), the request written in one ``sendall``, the
  reply read by a buffered reader (status line, headers, a body framed by
  ``Content-Length``, chunked coding or the connection closing). TLS is the standard
  library's, verified against botocore's CA bundle (or ``AWS_CA_BUNDLE``) with hostname
  checking; TCP keep-alive, no Nagle delay, the client's connect and read timeouts.
  (``http.client`` costs twice the CPU per exchange here: its header checks and its
  ``email``-based header parser.)

What it does not cover falls back to the client itself, call by call or for the whole
run: a request body ``json`` cannot encode (binary attributes) goes through
``client.batch_write_item``; a proxy (``HTTPS_PROXY`` and friends, not bypassed by
``NO_PROXY``) or a client that cannot prepare a request this way makes
``DirectBatchWrites.for_client`` return the client unchanged.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import urllib.parse
import zlib
from collections.abc import Mapping
from typing import Any, Final, Protocol, cast

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.exceptions import (
    ChecksumError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import get_cert_path
from botocore.parsers import create_parser
from botocore.utils import get_environ_proxies

__all__ = ["BatchWriteClient", "DirectBatchWrites"]

_OPERATION: Final = "BatchWriteItem"
_SEND_EVENT: Final = f"before-send.dynamodb.{_OPERATION}"
# Headers botocore computes per request (signature, time, body length, invocation ids):
# everything else of the prepared request is the same on every call.
_PER_REQUEST_HEADERS: Final = frozenset(
    {
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "content-length",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "host",
    }
)
_CRC32_HEADER: Final = "x-amz-crc32"
# Longest status or header line read, and most headers: far above what DynamoDB sends.
_MAX_LINE: Final = 65536
_MAX_HEADERS: Final = 200


class BatchWriteClient(Protocol):
    """What ``BatchWriter`` needs of a client: botocore's ``batch_write_item``."""

    def batch_write_item(self, *, RequestItems: Any) -> Any:  # noqa: N803 (botocore's name)
        """BatchWriteItem, as botocore's low-level client (raises ``ClientError``)."""
        ...


class _Template:
    """The prepared request botocore builds for a BatchWriteItem, caught before sending."""

    def __init__(self) -> None:
        self.url = ""
        self.headers: dict[str, str] = {}
        self.signing_scope: tuple[str, str] = ("", "")

    def capture(self, request: Any, **_: Any) -> AWSResponse:
        self.url = str(request.url)
        headers = {_text(name): _text(value) for name, value in request.headers.items()}
        self.headers = {
            name: value
            for name, value in headers.items()
            if name.lower() not in _PER_REQUEST_HEADERS
        }
        # Credential=<key>/<date>/<region>/<service>/aws4_request: the scope botocore signs for.
        authorization = next(
            (value for name, value in headers.items() if name.lower() == "authorization"), ""
        )
        scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
        if len(scope) == 5:
            self.signing_scope = (scope[2], scope[3])
        return AWSResponse(self.url, 200, cast(Any, {}), _EmptyBody())


class _EmptyBody:
    def stream(self, **_: Any) -> Any:
        return iter((b"{}",))


class DirectBatchWrites:
    """A DynamoDB client whose ``batch_write_item`` takes the short request path (see the
    module docstring); every other operation is the wrapped client's.

    Thread-safe: each thread gets its own connection. Build it with ``for_client``.

    Args:
        client: the botocore DynamoDB client the request template came from (also the
            fallback for bodies ``json`` cannot encode).
        credentials: the credentials the client signs with (refreshed as needed).
        url: the endpoint URL botocore resolved for BatchWriteItem.
        headers: the headers botocore sets on every BatchWriteItem (User-Agent, target...).
        region: the signing region.
        service: the signing name.
        connect_timeout: seconds to open a connection.
        read_timeout: seconds to wait on a socket read.
        ca_bundle: CA bundle to verify TLS with. Default: botocore's.
    """

    def __init__(
        self,
        client: Any,
        credentials: Credentials,
        *,
        url: str,
        headers: Mapping[str, str],
        region: str,
        service: str,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: str | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"cannot send BatchWriteItem to {url!r}")
        self._client = client
        self._credentials = credentials
        self._url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path or "/"
        if parts.query:
            self._path += f"?{parts.query}"
        # Sent as signed: the Host header is part of the signature.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if parts.port not in (None, 443 if self._https else 80):
            host = f"{host}:{parts.port}"
        self._headers = {"Host": host, **{k: v for k, v in headers.items() if k.lower() != "host"}}
        self._request_line = f"POST {self._path} HTTP/1.1\r\n"
        self._region = region
        self._service = service
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._ssl = (
            ssl.create_default_context(cafile=ca_bundle or get_cert_path(True))
            if self._https
            else None
        )
        self._local = threading.local()
        self._parser = create_parser("json")
        self._output_shape = client.meta.service_model.operation_model(_OPERATION).output_shape
        self.fallbacks = 0
        """Calls sent through the client because their body is not plain JSON."""

    @classmethod
    def for_client(
        cls,
        client: Any,
        credentials: Credentials | None,
        table: str,
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> DirectBatchWrites | Any:
        """The short path for ``client``'s BatchWriteItem calls to ``table``, or ``client``
        itself when the short path cannot reproduce its request (no credentials, a proxy,
        no botocore event system, an endpoint that is not plain HTTP(S)).

        Prepares one request through the client (endpoint rules, headers, signing) without
        sending it.
        """
        events = getattr(getattr(client, "meta", None), "events", None)
        if credentials is None or events is None:
            return client
        template = _Template()
        unique_id = f"csv-loader-template-{id(template)}"
        events.register_first(_SEND_EVENT, template.capture, unique_id=unique_id)
        try:
            client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {}}}]})
        finally:
            events.unregister(_SEND_EVENT, unique_id=unique_id)
        region, service = template.signing_scope
        if not (template.url and region and service) or get_environ_proxies(template.url):
            return client
        return cls(
            client,
            credentials,
            url=template.url,
            headers=template.headers,
            region=region,
            service=service,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ca_bundle=os.environ.get("AWS_CA_BUNDLE") or None,
        )

    def __getattr__(self, name: str) -> Any:
        """Every other operation and attribute (``meta``, ``exceptions``...) is the client's."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._client, name)

    def batch_write_item(self, **kwargs: Any) -> Any:
        """One BatchWriteItem attempt; the parsed response (``UnprocessedItems``...).

        Raises:
            ClientError: DynamoDB answered with an error (the client's exception class).
            ConnectionClosedError, EndpointConnectionError, ReadTimeoutError: no reply.
            ChecksumError: the reply's CRC32 does not match its body.
        """
        try:
            # No circular-reference bookkeeping: request parameters are trees.
            body = json.dumps(kwargs, separators=(",", ":"), check_circular=False).encode()
        except (TypeError, ValueError, RecursionError):
            self.fallbacks += 1
            return self._client.batch_write_item(**kwargs)
        request = AWSRequest(method="POST", url=self._url, data=body, headers=self._headers)
        SigV4Auth(self._credentials.get_frozen_credentials(), self._service, self._region).add_auth(
            request
        )
        status, headers, data = self._exchange(body, dict(request.headers.items()))
        expected = headers.get(_CRC32_HEADER)
        if expected is not None and zlib.crc32(data) != int(expected):
            raise ChecksumError(
                checksum_type="crc32",
                expected_checksum=expected,
                actual_checksum=str(zlib.crc32(data)),
            )
        if status == 200:
            try:
                return json.loads(data)
            except ValueError:
                raise ConnectionClosedError(endpoint_url=self._url) from None
        parsed = self._parser.parse(
            {"status_code": status, "headers": headers, "body": data}, self._output_shape
        )
        code = parsed.get("Error", {}).get("Code")
        raise self._client.exceptions.from_code(code)(parsed, _OPERATION)

    def close(self) -> None:
        """Close this thread's connection (the others close with their threads)."""
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            self._local.connection = None
            connection.close()

    def _exchange(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Send one request on this thread's connection: (status, lower-cased headers, body)."""
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = f"{self._request_line}{lines}Content-Length: {len(body)}\r\n\r\n"
        message = head.encode("latin-1") + body
        for attempt in (1, 2):
            connection, reused = self._connection()
            try:
                try:
                    connection.sock.sendall(message)
                except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                    raise _StaleConnectionError from None
                status, response_headers, data = connection.read_response()
            except TimeoutError:
                self.close()
                raise ReadTimeoutError(endpoint_url=self._url) from None
            except _StaleConnectionError:
                self.close()
                if reused and attempt == 1:
                    continue  # an idle kept-alive connection the server had closed
                raise ConnectionClosedError(endpoint_url=self._url) from None
            except (OSError, _ProtocolError):
                self.close()
                raise ConnectionClosedError(endpoint_url=self._url) from None
            if response_headers.get("connection", "").lower() == "close":
                self.close()
            return status, response_headers, data
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> tuple[_Connection, bool]:
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        port = self._port or (443 if self._https else 80)
        try:
            sock = socket.create_connection((self._host, port), timeout=self._connect_timeout)
        except OSError as error:  # a connect timeout (TimeoutError) included
            raise EndpointConnectionError(endpoint_url=self._url, error=error) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=self._host)
        except ssl.SSLError as error:  # a certificate that does not verify, as botocore says it
            sock.close()
            raise SSLError(endpoint_url=self._url, error=error) from None
        except OSError as error:
            sock.close()
            raise EndpointConnectionError(endpoint_url=self._url, error=error) from None
        sock.settimeout(self._read_timeout)
        connection = _Connection(sock)
        self._local.connection = connection
        return connection, False


class _ProtocolError(Exception):
    """The reply is not HTTP/1.1 as this client reads it."""


class _StaleConnectionError(Exception):
    """The connection was closed before any byte of a reply came back."""


class _Connection:
    """One HTTP/1.1 connection: a socket and a buffered reader of its replies.

    Reads what DynamoDB sends: a status line, headers, and a body framed by
    ``Content-Length``, by chunked transfer coding, or by the connection closing.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = sock.makefile("rb")

    def close(self) -> None:
        self._reader.close()
        self.sock.close()

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        reader = self._reader
        try:
            status_line = reader.readline(_MAX_LINE)
        except (ConnectionResetError, ConnectionAbortedError):
            raise _StaleConnectionError from None
        if not status_line:
            raise _StaleConnectionError
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/1.") or not rest[:3].isdigit():
            raise _ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        while True:
            line = reader.readline(_MAX_LINE)
            if line in (b"\r\n", b"\n"):
                break
            if not line or len(headers) > _MAX_HEADERS:
                raise _ProtocolError("the reply's headers are cut or too many")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:  # an interim reply: the final one follows
            return self.read_response()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, headers, self._read_chunked()
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise _ProtocolError(f"bad Content-Length {length[:20]!r}")
            data = reader.read(int(length))
            if len(data) != int(length):
                raise _ProtocolError("the reply's body is cut")
            return status, headers, data
        if status in (204, 304):
            return status, headers, b""
        headers["connection"] = "close"  # the body runs to the end of the connection
        return status, headers, reader.read()

    def _read_chunked(self) -> bytes:
        reader = self._reader
        parts: list[bytes] = []
        while True:
            size_line = reader.readline(_MAX_LINE).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _ProtocolError(f"bad chunk size {size_line[:20]!r}") from None
            if size == 0:
                while reader.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            chunk = reader.read(size)
            if len(chunk) != size or reader.read(2) != b"\r\n":
                raise _ProtocolError("a chunk of the reply is cut")
            parts.append(chunk)


def _text(value: str | bytes) -> str:
    """A header name or value as text (a prepared request holds some as bytes)."""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
