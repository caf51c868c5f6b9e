"""CloudWatch metrics of a load, as embedded metric format (EMF) lines in the job's log.

An EMF line is a JSON object whose ``_aws`` member says which of its top-level members are
metrics (name and unit), in which namespace and with which dimensions; CloudWatch Logs
turns each such log event into metric data points (no PutMetricData call, no permission,
no SDK). The shape is the one Powertools for AWS Lambda's ``Metrics`` prints.

A run publishes a line every ``interval_seconds`` from its own thread (reading the counters
the reader and the writer keep anyway: nothing is added per row) and a last line when it
ends. Counts are the change since the previous line, so that their Sum over any period is
what happened in it, whatever the number of jobs loading at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Protocol

import loader_contract as c

__all__ = [
    "DEFAULT_METRICS_INTERVAL_SECONDS",
    "LoaderMetrics",
    "RunMetrics",
    "emf_line",
]

#: Seconds between a run's metrics lines (CloudWatch's standard resolution is one minute).
DEFAULT_METRICS_INTERVAL_SECONDS: Final = 60.0
UNIT_COUNT: Final = "Count"
UNIT_COUNT_PER_SECOND: Final = "Count/Second"
# The progress line's counters: (metric name, unit). Also the order in every line.
_COUNTS: Final = (
    c.METRIC_ROWS_READ,
    c.METRIC_ROWS_LOADED,
    c.METRIC_ROWS_REJECTED,
    c.METRIC_THROTTLED_CALLS,
)


def emf_line(
    *,
    namespace: str,
    dimensions: Mapping[str, str],
    metrics: Sequence[tuple[str, str, float]],
    timestamp_ms: int,
) -> str:
    """One EMF log line: ``metrics`` as (name, unit, value), all with every dimension.

    Args:
        namespace: the CloudWatch namespace.
        dimensions: dimension names and values (one dimension set of all of them).
        metrics: (name, unit, value) of each metric.
        timestamp_ms: when, in milliseconds since the Unix epoch.
    """
    document: dict[str, object] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in metrics],
                }
            ],
        },
        **dimensions,
    }
    document.update((name, value) for name, _, value in metrics)
    return json.dumps(document, separators=(",", ":"))


class _Reader(Protocol):
    @property
    def rows(self) -> int: ...


class _Writer(Protocol):
    @property
    def written(self) -> int: ...

    @property
    def throttled(self) -> int: ...


class _Rejects(Protocol):
    @property
    def count(self) -> int: ...


class _Outcome(Protocol):
    @property
    def rows_loaded(self) -> int: ...

    @property
    def rows_rejected(self) -> int: ...

    @property
    def rows_duplicate(self) -> int: ...


class LoaderMetrics:
    """Where a loader's runs publish their metrics, and how often.

    Args:
        namespace: the CloudWatch namespace.
        pipeline: the value of the ``Pipeline`` dimension ("": no dimension).
        emit: writes one log line (the job's log: stdout, which awslogs ships).
        interval_seconds: seconds between a run's lines. Default: 60.
        clock: monotonic clock for rates. Default: ``time.monotonic``.
        wall_clock: epoch seconds for the timestamps. Default: ``time.time``.
    """

    def __init__(
        self,
        *,
        namespace: str,
        pipeline: str,
        emit: Callable[[str], None],
        interval_seconds: float = DEFAULT_METRICS_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval_seconds > 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self.namespace = namespace
        self.dimensions = {c.METRIC_DIMENSION_PIPELINE: pipeline} if pipeline else {}
        self.interval_seconds = interval_seconds
        self._emit = emit
        self._clock = clock
        self._wall_clock = wall_clock

    @classmethod
    def from_env(cls, environ: Mapping[str, str], emit: Callable[[str], None]) -> LoaderMetrics:
        """The metrics the job definition asks for; disabled without ``METRICS_NAMESPACE``.

        Args:
            environ: the process environment.
            emit: writes one log line.
        """
        namespace = environ.get(c.ENV_METRICS_NAMESPACE, "").strip()
        if not namespace:
            return _DISABLED
        return cls(
            namespace=namespace, pipeline=environ.get(c.ENV_METRICS_PIPELINE, "").strip(), emit=emit
        )

    @classmethod
    def disabled(cls) -> LoaderMetrics:
        """Metrics that publish nothing (a run's hooks cost nothing)."""
        return _DISABLED

    @property
    def enabled(self) -> bool:
        """Whether runs publish lines."""
        return self is not _DISABLED

    def watch(self, reader: _Reader, writer: _Writer, rejects: _Rejects) -> RunMetrics:
        """Start publishing one run's counters every ``interval_seconds``.

        Args:
            reader: its ``rows`` are the data rows read.
            writer: its ``written`` items and ``throttled`` calls.
            rejects: its ``count`` of rejected rows.
        """
        return RunMetrics(self, reader, writer, rejects)

    def _publish(self, metrics: Sequence[tuple[str, str, float]]) -> None:
        self._emit(
            emf_line(
                namespace=self.namespace,
                dimensions=self.dimensions,
                metrics=metrics,
                timestamp_ms=int(self._wall_clock() * 1000),
            )
        )


_DISABLED: Final = LoaderMetrics(namespace="", pipeline="", emit=lambda line: None)


class RunMetrics:
    """One run's metrics: a line every interval from a daemon thread, a last one at the end.

    Made by :meth:`LoaderMetrics.watch`; call :meth:`stop` when the run stops writing (in a
    ``finally``) and :meth:`finish` with its outcome.
    """

    def __init__(
        self, metrics: LoaderMetrics, reader: _Reader, writer: _Writer, rejects: _Rejects
    ) -> None:
        self._metrics = metrics
        self._reader = reader
        self._writer = writer
        self._rejects = rejects
        self._lock = threading.Lock()
        self._sent = dict.fromkeys(_COUNTS, 0)
        self._since = metrics._clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if metrics.enabled:
            self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the periodic lines (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def finish(self, outcome: _Outcome) -> None:
        """Publish the run's last line: what is left of its counts and ``PartsDone`` 1.

        ``RowsLoaded`` and ``RowsRejected`` end at the outcome's (the ledger's) figures.
        """
        self.stop()
        if not self._metrics.enabled:
            return
        self._publish(
            {
                c.METRIC_ROWS_READ: self._reader.rows,
                c.METRIC_ROWS_LOADED: outcome.rows_loaded,
                c.METRIC_ROWS_REJECTED: outcome.rows_rejected,
                c.METRIC_THROTTLED_CALLS: self._writer.throttled,
            },
            (
                (c.METRIC_ROWS_DUPLICATE, UNIT_COUNT, outcome.rows_duplicate),
                (c.METRIC_PARTS_DONE, UNIT_COUNT, 1),
            ),
        )

    def _run(self) -> None:
        while not self._stop.wait(self._metrics.interval_seconds):
            self._publish(
                {
                    c.METRIC_ROWS_READ: self._reader.rows,
                    c.METRIC_ROWS_LOADED: self._writer.written,
                    c.METRIC_ROWS_REJECTED: self._rejects.count,
                    c.METRIC_THROTTLED_CALLS: self._writer.throttled,
                }
            )

    def _publish(
        self, totals: Mapping[str, int], extra: Sequence[tuple[str, str, float]] = ()
    ) -> None:
        """One line: each total's change since the previous line, the rate, ``extra``."""
        with self._lock:
            now = self._metrics._clock()
            elapsed = max(now - self._since, 1e-3)
            deltas = {name: totals[name] - self._sent[name] for name in _COUNTS}
            self._sent.update(totals)
            self._since = now
        rate = round(deltas[c.METRIC_ROWS_READ] / elapsed, 1)
        self._metrics._publish(
            [
                *((name, UNIT_COUNT, deltas[name]) for name in _COUNTS),
                (c.METRIC_ROWS_PER_SECOND, UNIT_COUNT_PER_SECOND, rate),
                *extra,
            ]
        )
