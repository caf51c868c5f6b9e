"""The CSV pipeline's CloudWatch dashboard: a load's progress, throttling and failures.

Graphs the metrics the loader and the submitter publish as embedded metric format log
lines (names in their contracts), the dead-letter queue's depth and the pipeline's
failure rules, one minute per point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_batch.runtime.csv_loader import loader_contract as loader
from constructs_batch.runtime.submit_job import submit_contract as submitter

__all__ = ["METRICS_PERIOD", "pipeline_dashboard"]

#: One point per minute: CloudWatch's standard resolution, and the loader's interval.
METRICS_PERIOD = Duration.minutes(1)
_WIDTH = 8  # three graphs to a row of 24
_HEIGHT = 6


def pipeline_dashboard(
    scope: Construct,
    construct_id: str,
    *,
    metric: Callable[[str, str], cloudwatch.Metric],
    dead_letter_queue: sqs.IQueue,
    failure_rules: Sequence[tuple[str, events.IRule]],
    alarms: Sequence[cloudwatch.IAlarm],
) -> cloudwatch.Dashboard:
    """A dashboard of one pipeline (no dashboard name: CloudFormation generates one).

    Args:
        scope: where to add it.
        construct_id: its id.
        metric: the pipeline's metric of a name and a statistic.
        dead_letter_queue: the event queue's DLQ (its depth is graphed).
        failure_rules: (label, rule) of the rules that match failures (their matches are
            graphed: AWS/Events ``TriggeredRules``).
        alarms: alarms whose state is shown.
    """

    def sum_of(name: str) -> cloudwatch.Metric:
        return metric(name, cloudwatch.Stats.SUM)

    rows_read = sum_of(loader.METRIC_ROWS_READ)
    rows = [
        _graph(
            "Rows per minute (loaded, rejected, superseded duplicates)",
            sum_of(loader.METRIC_ROWS_LOADED),
            sum_of(loader.METRIC_ROWS_REJECTED),
            sum_of(loader.METRIC_ROWS_DUPLICATE),
        ),
        _graph(
            "Rows read per second",
            cloudwatch.MathExpression(
                expression="read / PERIOD(read)",
                using_metrics={"read": rows_read},
                label="all jobs",
                period=METRICS_PERIOD,
            ),
            metric(loader.METRIC_ROWS_PER_SECOND, cloudwatch.Stats.AVERAGE).with_(
                label="per job (average)"
            ),
        ),
        _graph("Throttled write calls per minute", sum_of(loader.METRIC_THROTTLED_CALLS)),
        _graph(
            "Loads finished (objects and parts of split objects)", sum_of(loader.METRIC_PARTS_DONE)
        ),
        _graph(
            "Submitter, per minute",
            sum_of(submitter.METRIC_OBJECTS_SUBMITTED),
            sum_of(submitter.METRIC_SUBMIT_JOB_CALLS),
            sum_of(submitter.METRIC_MESSAGES_FAILED),
            sum_of(submitter.METRIC_RECORDS_IGNORED),
        ),
        _graph(
            "Dead-letter queue: messages visible",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=METRICS_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
        ),
        _graph(
            "Failed jobs and failed loads",
            *(
                cloudwatch.Metric(
                    namespace="AWS/Events",
                    metric_name="TriggeredRules",
                    dimensions_map={"RuleName": rule.rule_name},
                    statistic=cloudwatch.Stats.SUM,
                    period=METRICS_PERIOD,
                    label=label,
                )
                for label, rule in failure_rules
            ),
        ),
        cloudwatch.AlarmStatusWidget(
            title="Alarms", alarms=list(alarms), width=2 * _WIDTH, height=_HEIGHT
        ),
    ]
    dashboard = cloudwatch.Dashboard(scope, construct_id, default_interval=Duration.hours(3))
    for start in range(0, len(rows), 3):
        dashboard.add_widgets(*rows[start : start + 3])
    return dashboard


def _graph(title: str, *metrics: cloudwatch.IMetric) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(metrics),
        width=_WIDTH,
        height=_HEIGHT,
        period=METRICS_PERIOD,
    )
