"""AWS clients created the first time they are used, then kept for the container's life.

Importing the SDK and building a session and its clients is most of the submitter's cold
start (botocore, urllib3 and ssl, then each service's model and endpoint rules). The
handler hands :class:`LazyClient` stand-ins to the submitter instead: nothing of the SDK
is imported at init, a client is built when an event first needs it (the S3 client only
for a batch of several objects, which writes a manifest), and every later call goes to
that same client. The clients are plain botocore clients: boto3 adds nothing the
submitter uses (its S3 transfer manager, resources) and its import (with s3transfer) is
a large part of the SDK's.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["ClientFactory", "LazyClient"]


class ClientFactory:
    """One botocore session and one client per service, each built on first request.

    Thread-safe: the submitter's ledger writes run in a thread pool, so the first event
    may ask for a client from several threads at once; one client is built.

    Args:
        config: Arguments of ``botocore.config.Config`` for every client (e.g. retries).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = dict(config)
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    @property
    def services(self) -> tuple[str, ...]:
        """The services whose client is built, in the order they were first needed."""
        with self._lock:
            return tuple(self._clients)

    def client(self, service: str) -> Any:
        """The client of a service (``"batch"``, ``"dynamodb"``, ...), built the first time.

        Args:
            service: The service name as botocore knows it.
        """
        with self._lock:
            if service not in self._clients:
                # Imported here, not at module scope: this is the cost init no longer pays.
                import botocore.config
                import botocore.session

                if self._session is None:
                    self._session = botocore.session.get_session()
                self._clients[service] = self._session.create_client(
                    service, config=botocore.config.Config(**self._config)
                )
            return self._clients[service]


class LazyClient:
    """Stands for one service's client: every attribute is the real client's, which the
    factory builds on the first attribute read.

    Args:
        factory: Builds (once) and keeps the client.
        service: The service name, e.g. ``"batch"``.
    """

    __slots__ = ("_client", "_factory", "_service")

    def __init__(self, factory: ClientFactory, service: str) -> None:
        self._factory = factory
        self._service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        """The real client's attribute (``submit_job``, ``meta``, ...)."""
        client = self._client
        if client is None:
            client = self._client = self._factory.client(self._service)
        return getattr(client, name)

    def __repr__(self) -> str:
        """Says whether the client has been built yet."""
        state = "built" if self._client is not None else "not built yet"
        return f"LazyClient({self._service!r}, {state})"
