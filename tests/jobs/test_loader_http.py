"""The loader's short BatchWriteItem path: botocore's request and signature, its errors, HTTP/1.1."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import (
    ChecksumError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)
from loader_http import DirectBatchWrites
from loader_writer import is_retryable, is_throttling

TABLE = "Target"
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


def _item(key: str) -> dict[str, Any]:
    return {"PutRequest": {"Item": {"id": {"S": key}, "n": {"N": "1.5"}}}}


# --- a scripted HTTP/1.1 server -----------------------------------------------------------------


@dataclass
class Received:
    """One request the server read."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int


Reply = Callable[[socket.socket, Received], bool]
"""Writes a reply (or not) to the socket; True to keep the connection open."""


def reply(
    status: int = 200,
    body: bytes | str = '{"UnprocessedItems":{}}',
    *,
    headers: dict[str, str] | None = None,
    crc: bool = True,
    chunked: bool = False,
    close: bool = False,
) -> Reply:
    data = body.encode() if isinstance(body, str) else body

    def write(sock: socket.socket, _: Received) -> bool:
        head = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "test"}
        if crc:
            head["x-amz-crc32"] = str(zlib.crc32(data))
        head.update(headers or {})
        if close:
            head["Connection"] = "close"
        if chunked:
            head["Transfer-Encoding"] = "chunked"
            middle = len(data) // 2
            payload = b"".join(
                f"{len(part):x}\r\n".encode() + part + b"\r\n"
                for part in (data[:middle], data[middle:])
                if part
            )
            payload += b"0\r\n\r\n"
        else:
            head["Content-Length"] = str(len(data))
            payload = data
        lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
        sock.sendall(f"HTTP/1.1 {status} X\r\n{lines}\r\n".encode() + payload)
        return not close

    return write


def error(status: int, code: str, message: str = "no") -> Reply:
    return reply(status, json.dumps({"__type": f"{_ERROR_PREFIX}{code}", "message": message}))


def hang_up(sock: socket.socket, _: Received) -> bool:
    """Close without replying."""
    return False


def stall(seconds: float) -> Reply:
    def write(sock: socket.socket, _: Received) -> bool:
        threading.Event().wait(seconds)
        return False

    return write


@dataclass
class Server:
    """Replies to requests in order from ``replies`` (the last one repeats)."""

    replies: list[Reply]
    tls: ssl.SSLContext | None = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self._connections += 1
            threading.Thread(
                target=self._serve, args=(sock, self._connections), daemon=True
            ).start()

    def _serve(self, sock: socket.socket, connection: int) -> None:
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            reader = sock.makefile("rb")
            while True:
                request_line = reader.readline()
                if not request_line:
                    return
                method, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip()] = value.strip()
                body = reader.read(int(headers.get("Content-Length", "0")))
                received = Received(method, path, headers, body, connection)
                self.received.append(received)
                index = min(len(self.received), len(self.replies)) - 1
                if not self.replies[index](sock, received):
                    return
        except OSError:
            return
        finally:
            sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(*replies: Reply, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(list(replies), tls=tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _writes(
    url: str,
    *,
    credentials: Any = None,
    read_timeout: float = 5,
    region: str = "eu-west-3",
) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token="token",
        region_name=region,
    )
    client = session.client(
        "dynamodb", endpoint_url=url, config=Config(retries={"mode": "standard"})
    )
    return DirectBatchWrites.for_client(
        client,
        credentials or session.get_credentials(),
        TABLE,
        connect_timeout=2,
        read_timeout=read_timeout,
    )


# --- against the emulator ------------------------------------------------------------------------


def test_direct_writes_store_items_like_the_client(world: Any) -> None:
    # GIVEN the emulator's client on the short path
    writes = world.direct
    assert isinstance(writes, DirectBatchWrites)

    # WHEN 25 items are written in one call
    response = writes.batch_write_item(
        RequestItems={TABLE: [_item(f"k{i:02d}") for i in range(25)]}
    )

    # THEN DynamoDB stored them all and left nothing unprocessed
    assert response["UnprocessedItems"] == {}
    items = world.items()
    assert sorted(items) == [f"k{i:02d}" for i in range(25)]
    assert items["k00"]["n"] == pytest.approx(1.5)


def test_direct_errors_are_the_clients_own_exceptions(world: Any) -> None:
    # GIVEN the short path, and a table that does not exist
    writes = world.direct

    # WHEN a call is made to it
    with pytest.raises(ClientError) as raised:
        writes.batch_write_item(RequestItems={"Missing": [_item("a")]})

    # THEN it raises what the client raises: its exception class, code and HTTP status
    assert isinstance(raised.value, world.dynamodb.exceptions.ResourceNotFoundException)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_direct_path_passes_other_operations_to_the_client(world: Any) -> None:
    # GIVEN the short path WHEN another operation is called THEN the client answers it
    table = world.direct.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_direct_path_sends_binary_values_through_the_client(world: Any) -> None:
    # GIVEN an item with a binary attribute (which JSON cannot carry as bytes)
    writes = world.direct
    item = {"PutRequest": {"Item": {"id": {"S": "b"}, "blob": {"B": b"\x00\x01"}}}}

    # WHEN it is written THEN botocore's serializer sends it, and it is stored
    writes.batch_write_item(RequestItems={TABLE: [item]})
    assert writes.fallbacks == 1
    assert world.items()["b"]["blob"].value == b"\x00\x01"


# --- what goes on the wire -------------------------------------------------------------------


def test_direct_request_carries_botocore_headers_and_a_signature_botocore_computes(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a server and the short path for a client in eu-west-3 with a session token
    server = serve(reply())
    writes = _writes(server.url)

    # WHEN one call is made
    writes.batch_write_item(RequestItems={TABLE: [_item("a")]})

    # THEN the request is the client's: target, content type, user agent, token, host
    (sent,) = server.received
    assert (sent.method, sent.path) == ("POST", "/")
    assert sent.headers["X-Amz-Target"] == "DynamoDB_20120810.BatchWriteItem"
    assert sent.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert sent.headers["User-Agent"].startswith("Boto3/")
    assert sent.headers["X-Amz-Security-Token"] == "token"
    assert sent.headers["Host"] == f"127.0.0.1:{server.port}"
    assert json.loads(sent.body) == {"RequestItems": {TABLE: [_item("a")]}}
    # AND its signature is the one botocore's SigV4 signer computes for those bytes
    stamp = datetime.datetime.strptime(sent.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stamp)
    unsigned = {
        k: v
        for k, v in sent.headers.items()
        if k not in {"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Content-Length"}
    }
    request = AWSRequest(method="POST", url=f"{server.url}/", data=sent.body, headers=unsigned)
    botocore.auth.SigV4Auth(
        Credentials("AKIDEXAMPLE", "secret", "token"), "dynamodb", "eu-west-3"
    ).add_auth(request)
    assert sent.headers["Authorization"] == request.headers["Authorization"]
    assert "/eu-west-3/dynamodb/aws4_request" in sent.headers["Authorization"]


def test_direct_path_signs_each_call_with_the_current_credentials(
    serve: Callable[..., Server],
) -> None:
    # GIVEN credentials that rotate between two calls (as refreshable credentials do)
    class Rotating:
        def __init__(self) -> None:
            self.keys = iter(["AKIDFIRST", "AKIDSECOND"])

        def get_frozen_credentials(self) -> Any:
            return Credentials(next(self.keys), "secret").get_frozen_credentials()

    server = serve(reply())
    writes = _writes(server.url, credentials=Rotating())

    # WHEN two calls are made
    for key in ("a", "b"):
        writes.batch_write_item(RequestItems={TABLE: [_item(key)]})

    # THEN each is signed with the key current at the time
    keys = [
        r.headers["Authorization"].split("Credential=")[1].split("/")[0] for r in server.received
    ]
    assert keys == ["AKIDFIRST", "AKIDSECOND"]


def test_direct_path_keeps_one_connection_alive_across_calls(serve: Callable[..., Server]) -> None:
    server = serve(reply())
    writes = _writes(server.url)
    for key in "abc":
        writes.batch_write_item(RequestItems={TABLE: [_item(key)]})
    assert [r.connection for r in server.received] == [1, 1, 1]


# --- replies and failures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "code", "retryable", "throttling"),
    [
        (
            error(400, "ProvisionedThroughputExceededException"),
            "ProvisionedThroughputExceededException",
            True,
            True,
        ),
        (error(400, "ThrottlingException"), "ThrottlingException", True, True),
        (error(400, "RequestLimitExceeded"), "RequestLimitExceeded", True, True),
        (error(500, "InternalServerError"), "InternalServerError", True, False),
        (error(503, "ServiceUnavailable"), "ServiceUnavailable", True, False),
        (error(400, "ValidationException"), "ValidationException", False, False),
        (error(400, "AccessDeniedException"), "AccessDeniedException", False, False),
        (reply(429, "", crc=False), "429", True, True),
    ],
    ids=["provisioned", "throttling", "request-limit", "500", "503", "validation", "denied", "429"],
)
def test_direct_errors_read_and_classify_as_botocore_standard_retries_do(
    serve: Callable[..., Server], response: Reply, code: str, retryable: bool, throttling: bool
) -> None:
    # GIVEN a server answering with an error
    writes = _writes(serve(response).url)

    # WHEN a call is made
    with pytest.raises(ClientError) as raised:
        writes.batch_write_item(RequestItems={TABLE: [_item("a")]})

    # THEN it is a ClientError with DynamoDB's code, classified as botocore's standard mode does
    assert raised.value.response["Error"]["Code"] == code
    model = writes.meta.service_model.operation_model("BatchWriteItem")
    assert is_retryable(raised.value, model) is retryable
    assert is_throttling(raised.value, model) is throttling


def test_direct_path_returns_unprocessed_items(serve: Callable[..., Server]) -> None:
    body = json.dumps({"UnprocessedItems": {TABLE: [_item("b")]}})
    writes = _writes(serve(reply(body=body)).url)
    response = writes.batch_write_item(RequestItems={TABLE: [_item("a"), _item("b")]})
    assert response == {"UnprocessedItems": {TABLE: [_item("b")]}}


def test_direct_path_reads_a_chunked_reply(serve: Callable[..., Server]) -> None:
    writes = _writes(serve(reply(chunked=True, crc=False)).url)
    assert writes.batch_write_item(RequestItems={TABLE: [_item("a")]}) == {"UnprocessedItems": {}}


def test_direct_path_refuses_a_reply_whose_crc32_does_not_match(
    serve: Callable[..., Server],
) -> None:
    # GIVEN a reply whose x-amz-crc32 is not its body's
    bad = reply(headers={"x-amz-crc32": "12345"}, crc=False)
    writes = _writes(serve(bad).url)

    # WHEN a call is made THEN it raises ChecksumError, which the writer retries
    with pytest.raises(ChecksumError) as raised:
        writes.batch_write_item(RequestItems={TABLE: [_item("a")]})
    assert is_retryable(raised.value)


def test_direct_path_resends_once_on_a_kept_alive_connection_the_server_closed(
    serve: Callable[..., Server],
) -> None:
    # GIVEN a server that closes the connection after its first reply, silently
    server = serve(reply(), hang_up, reply())
    writes = _writes(server.url)
    writes.batch_write_item(RequestItems={TABLE: [_item("a")]})

    # WHEN the next call finds the connection closed
    response = writes.batch_write_item(RequestItems={TABLE: [_item("b")]})

    # THEN it was sent again at once on a new connection, and succeeded
    assert response == {"UnprocessedItems": {}}
    assert [r.connection for r in server.received] == [1, 1, 2]


def test_direct_path_reports_a_connection_closed_without_a_reply(
    serve: Callable[..., Server],
) -> None:
    writes = _writes(serve(hang_up).url)
    with pytest.raises(ConnectionClosedError) as raised:
        writes.batch_write_item(RequestItems={TABLE: [_item("a")]})
    assert is_retryable(raised.value)


def test_direct_path_reports_a_read_timeout(serve: Callable[..., Server]) -> None:
    writes = _writes(serve(stall(1.0)).url, read_timeout=0.2)
    with pytest.raises(ReadTimeoutError) as raised:
        writes.batch_write_item(RequestItems={TABLE: [_item("a")]})
    assert is_retryable(raised.value)


def test_direct_path_reports_an_endpoint_it_cannot_reach() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    writes = _writes(f"http://127.0.0.1:{port}")
    with pytest.raises(EndpointConnectionError) as raised:
        writes.batch_write_item(RequestItems={TABLE: [_item("a")]})
    assert is_retryable(raised.value)


# --- TLS and proxies -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key) PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _tls_server(serve: Callable[..., Server], certificate: tuple[Path, Path]) -> Server:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return serve(reply(), tls=context)


def test_direct_path_verifies_tls_against_the_ca_bundle(
    serve: Callable[..., Server],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a TLS endpoint whose certificate AWS_CA_BUNDLE trusts
    server = _tls_server(serve, certificate)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificate[0]))

    # WHEN a call is made THEN it goes through, encrypted
    writes = _writes(server.url)
    assert writes.batch_write_item(RequestItems={TABLE: [_item("a")]}) == {"UnprocessedItems": {}}
    assert len(server.received) == 1


def test_direct_path_refuses_a_certificate_it_cannot_verify(
    serve: Callable[..., Server],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a TLS endpoint with a self-signed certificate and the default CA bundle
    server = _tls_server(serve, certificate)
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)

    # WHEN a call is made THEN it fails before sending anything
    writes = _writes(server.url)
    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        writes.batch_write_item(RequestItems={TABLE: [_item("a")]})
    assert server.received == []


def test_direct_path_leaves_calls_to_the_client_when_a_proxy_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a proxy in the environment for every host
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    # WHEN the short path is asked for THEN the client itself comes back (botocore proxies)
    session = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    client = session.client("dynamodb")
    assert (
        DirectBatchWrites.for_client(
            client, session.get_credentials(), TABLE, connect_timeout=1, read_timeout=1
        )
        is client
    )
