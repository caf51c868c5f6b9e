"""CloudWatch metrics of the submitter, as embedded metric format (EMF) lines on stdout.

Lambda sends stdout to the function's log group, where CloudWatch Logs turns each line
whose ``_aws`` member declares metrics into metric data points: no PutMetricData call, no
permission. The shape is the one Powertools' ``Metrics`` prints; this module is a few
lines of ``json`` instead, so that importing the handler stays cheap. The loader job,
packaged apart from this function, has the same writer (``loader_metrics.emf_line``; a test
keeps the two alike).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from submit_contract import (
    ENV_METRICS_NAMESPACE,
    ENV_METRICS_PIPELINE,
    METRIC_DIMENSION_PIPELINE,
    METRIC_MESSAGES_FAILED,
    METRIC_OBJECTS_SUBMITTED,
    METRIC_RECORDS_IGNORED,
    METRIC_SUBMIT_JOB_CALLS,
)

__all__ = ["SubmitMetrics", "emf_line"]

UNIT_COUNT: Final = "Count"


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


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class SubmitMetrics:
    """Publishes one line of counts per SQS batch.

    Args:
        namespace: the CloudWatch namespace.
        pipeline: the value of the ``Pipeline`` dimension ("": no dimension).
        emit: writes one log line. Default: a line on stdout.
        wall_clock: epoch seconds for the timestamps. Default: ``time.time``.
    """

    def __init__(
        self,
        *,
        namespace: str,
        pipeline: str,
        emit: Callable[[str], None] = _print_line,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.dimensions = {METRIC_DIMENSION_PIPELINE: pipeline} if pipeline else {}
        self._emit = emit
        self._wall_clock = wall_clock

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SubmitMetrics | None:
        """The metrics the construct asks for, or None without ``METRICS_NAMESPACE``.

        Args:
            environ: the function's environment, e.g. ``os.environ``.
        """
        namespace = environ.get(ENV_METRICS_NAMESPACE, "").strip()
        if not namespace:
            return None
        return cls(namespace=namespace, pipeline=environ.get(ENV_METRICS_PIPELINE, "").strip())

    def publish(
        self,
        *,
        objects_submitted: int,
        submit_job_calls: int,
        records_ignored: int,
        messages_failed: int,
    ) -> None:
        """Publish one batch's counts.

        Args:
            objects_submitted: objects in the submissions that succeeded.
            submit_job_calls: SubmitJob calls made, failed ones included.
            records_ignored: S3 records that need no job.
            messages_failed: messages reported for redelivery.
        """
        self._emit(
            emf_line(
                namespace=self.namespace,
                dimensions=self.dimensions,
                metrics=[
                    (METRIC_OBJECTS_SUBMITTED, UNIT_COUNT, objects_submitted),
                    (METRIC_SUBMIT_JOB_CALLS, UNIT_COUNT, submit_job_calls),
                    (METRIC_RECORDS_IGNORED, UNIT_COUNT, records_ignored),
                    (METRIC_MESSAGES_FAILED, UNIT_COUNT, messages_failed),
                ],
                timestamp_ms=int(self._wall_clock() * 1000),
            )
        )
