"""An embedded AWS emulator for tests, the demo and benchmarks: moto's server on 127.0.0.1.

    with LocalAws() as aws:
        s3 = aws.client("s3")
        subprocess.run([...], env={**os.environ, **aws.env})

The server binds to 127.0.0.1 only, on a free port, and is stopped on exit.
Batch runs with ``use_docker: False``: submitted jobs are recorded (and succeed
at once) without a container being started.
"""

from __future__ import annotations

import json
import urllib.request
from types import TracebackType
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

__all__ = ["LOOPBACK", "REGION", "LocalAws"]

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
# moto accepts any credentials; these are never sent anywhere but the loopback server.
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LocalAws:
    """moto's threaded server on 127.0.0.1 with a free port; a context manager."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self.endpoint_url = ""

    def __enter__(self) -> LocalAws:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and switch Batch to run without Docker."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._post("/moto-api/config", {"batch": {"use_docker": False}})

    def stop(self) -> None:
        """Stop the server."""
        self._server.stop()

    def reset(self) -> None:
        """Forget every resource created so far (Batch stays without Docker)."""
        self._post("/moto-api/reset", None)
        self._post("/moto-api/config", {"batch": {"use_docker": False}})

    @property
    def env(self) -> dict[str, str]:
        """Environment that points boto3 (in this or a child process) at the emulator."""
        return {
            **_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for a service, pointed at the emulator."""
        return boto3.client(service, **self._connection(), **kwargs)

    def resource(self, service: str, **kwargs: Any) -> Any:
        """A boto3 resource for a service, pointed at the emulator."""
        return boto3.resource(service, **self._connection(), **kwargs)

    def _connection(self) -> dict[str, str]:
        return {
            "region_name": REGION,
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": _CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": _CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }

    def _post(self, path: str, body: Any) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(f"{self.endpoint_url}{path}", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
