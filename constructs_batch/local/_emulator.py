"""The embedded AWS emulator: moto's server on 127.0.0.1, in this process.

    with LocalAws() as aws:
        s3 = aws.client("s3")
        subprocess.run([...], env={**os.environ, **aws.env})

The server binds to 127.0.0.1 only, on a free port, and is stopped on exit. AWS Batch
runs without Docker and holds every submitted job until ``aws.batch`` plays it; Step
Functions executes state machines (its Batch integration patched, see :mod:`._moto`).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from types import TracebackType
from typing import Any, ClassVar, Final

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from constructs_batch.local._batch import LocalBatch
from constructs_batch.local._moto import apply_patches, set_job_sink

__all__ = ["ACCOUNT_ID", "LOOPBACK", "REGION", "LocalAws"]

LOOPBACK: Final = "127.0.0.1"
REGION: Final = "us-east-1"
#: moto's default account: the account every emulated ARN is in.
ACCOUNT_ID: Final = "123456789012"
#: moto accepts any credentials; these are never sent anywhere but the loopback server.
_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: Batch without Docker; Step Functions runs executions (with ``MOTO_PORT`` set).
_CONFIG: Final = {"batch": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}
#: Where moto's Step Functions interpreter sends its service calls:
#: ``http://localhost:$MOTO_PORT`` (5000 when unset).
_MOTO_PORT: Final = "MOTO_PORT"


class LocalAws:
    """moto's threaded server on 127.0.0.1 with a free port; a context manager.

    One may run per process: moto's state and its Step Functions interpreter's endpoint
    (``MOTO_PORT``) are the process's.

    Attributes:
        endpoint_url: ``http://127.0.0.1:<port>`` once started.
        batch: the player of the jobs submitted to the emulator's AWS Batch.
    """

    _running: ClassVar[LocalAws | None] = None

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._saved_port: str | None = None
        self.endpoint_url = ""
        self.batch = LocalBatch(self)

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
        """Start the server, patch moto, and configure Batch and Step Functions.

        Raises:
            RuntimeError: another ``LocalAws`` runs in this process, or moto is a version
                the patches are not written for.
        """
        if LocalAws._running is not None:
            raise RuntimeError(
                f"a LocalAws already runs in this process ({LocalAws._running.endpoint_url}): "
                "moto's state is per process; share that one"
            )
        apply_patches()
        # The server's access log is one line per request, and the state machine
        # interpreter logs each failed state at length: the execution's history says it all.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._saved_port = os.environ.get(_MOTO_PORT)
        os.environ[_MOTO_PORT] = str(port)
        set_job_sink(self.batch.receive)
        LocalAws._running = self
        self._post("/moto-api/config", _CONFIG)

    def stop(self) -> None:
        """Stop the server; jobs submitted afterwards in this process finish at once again."""
        set_job_sink(None)
        self._server.stop()
        if self._saved_port is None:
            os.environ.pop(_MOTO_PORT, None)
        else:
            os.environ[_MOTO_PORT] = self._saved_port
        LocalAws._running = None

    def reset(self) -> None:
        """Forget every resource, job and player so far (the configuration stays)."""
        self._post("/moto-api/reset", None)
        self.batch.reset()
        self._post("/moto-api/config", _CONFIG)

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
        factory: Any = boto3.client  # typed per service by boto3-stubs: the name is a str here
        return factory(service, **self._connection(), **kwargs)

    def resource(self, service: str, **kwargs: Any) -> Any:
        """A boto3 resource for a service, pointed at the emulator."""
        factory: Any = boto3.resource
        return factory(service, **self._connection(), **kwargs)

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
