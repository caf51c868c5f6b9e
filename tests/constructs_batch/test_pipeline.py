"""CsvToDynamoDbPipeline: secure defaults, wiring and least privilege end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from constructs_batch.runtime.csv_loader import loader_contract as loader
from constructs_batch.runtime.submit_job import submit_contract as submitter
from helpers import job_definition, job_environment, make_app

from constructs_batch.pipeline import CsvToDynamoDbPipeline
from constructs_batch.testing import nag_findings


class Pipelines:
    """One stack with a default pipeline, one with a user's bucket and table."""

    def __init__(self) -> None:
        app = make_app()
        self.stack = Stack(app, "PipelineStack")
        self.pipeline = CsvToDynamoDbPipeline(
            self.stack, "Pipeline", key_columns=["tenant", "id"], numeric_columns=["amount"]
        )
        self.byo_stack = Stack(app, "ByoStack")
        bucket = s3.Bucket.from_bucket_name(self.byo_stack, "Existing", "existing-bucket")
        table = dynamodb.Table.from_table_name(self.byo_stack, "Table", "existing-table")
        self.byo = CsvToDynamoDbPipeline(self.byo_stack, "Pipeline", bucket=bucket, table=table)
        self.template = Template.from_stack(self.stack)
        self.byo_template = Template.from_stack(self.byo_stack)

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def policy_statements(self, role: Any) -> list[dict[str, Any]]:
        """Every statement of the default policy attached to a role."""
        role_id = self.logical_id(role)
        statements: list[dict[str, Any]] = []
        for policy in self.template.find_resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"]["Roles"]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements


@pytest.fixture(scope="module")
def built() -> Pipelines:
    return Pipelines()


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        actions = statement["Action"]
        found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def test_pipeline_default_configuration_passes_cdk_nag(built: Pipelines) -> None:
    # GIVEN pipelines with default and bring-your-own resources
    # WHEN cdk-nag checks them
    # THEN nothing is left unacknowledged
    assert nag_findings(built.stack) == []
    assert nag_findings(built.byo_stack) == []


def test_pipeline_input_bucket_is_encrypted_versioned_private_logged(built: Pipelines) -> None:
    # GIVEN the default pipeline
    # THEN the input bucket is encrypted, versioned, blocks public access, logs access
    built.template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketEncryption": Match.any_value(),
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "LoggingConfiguration": Match.object_like(
                        {"DestinationBucketName": Match.any_value()}
                    ),
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )


def test_pipeline_bucket_policy_denies_insecure_transport(built: Pipelines) -> None:
    built.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": built.logical_id(built.pipeline.bucket)},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_pipeline_csv_events_under_incoming_reach_the_queue(built: Pipelines) -> None:
    # GIVEN the default pipeline
    # THEN ObjectCreated events for every key under incoming/ go to the event queue (the
    # submitter loads .csv in any letter case and warns about the rest: S3's suffix filter
    # is case-sensitive)
    built.template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}
                        },
                        "QueueArn": {"Fn::GetAtt": [built.logical_id(built.pipeline.queue), "Arn"]},
                    }
                ]
            }
        },
    )


def test_pipeline_event_queue_is_encrypted_with_a_dead_letter_queue(built: Pipelines) -> None:
    built.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": 360,
            "RedrivePolicy": {
                "deadLetterTargetArn": {
                    "Fn::GetAtt": [built.logical_id(built.pipeline.dead_letter_queue), "Arn"]
                },
                "maxReceiveCount": 5,
            },
        },
    )


def test_pipeline_submitter_is_latest_python_on_arm_with_partial_failures(
    built: Pipelines,
) -> None:
    # GIVEN the default pipeline
    # THEN the submitter runs the latest Python on arm64 with a concurrency cap
    built.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "handler.handler",
            "ReservedConcurrentExecutions": 5,
            "Layers": [
                {
                    "Fn::Join": [
                        "",
                        Match.array_with(
                            [
                                Match.string_like_regexp(
                                    ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:"
                                )
                            ]
                        ),
                    ]
                }
            ],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        submitter.ENV_JOB_QUEUE_ARN: Match.any_value(),
                        submitter.ENV_JOB_DEFINITION_ARN: {
                            "Ref": built.logical_id(built.pipeline.loader.job_definition)
                        },
                        submitter.ENV_LEDGER_TABLE_NAME: {
                            "Ref": built.logical_id(built.pipeline.ledger)
                        },
                        submitter.ENV_INPUT_PREFIX: "incoming/",
                    }
                )
            },
        },
    )
    # AND it reads the queue reporting batch item failures
    built.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 1000},
    )


def test_pipeline_loader_job_gets_tables_and_columns(built: Pipelines) -> None:
    # GIVEN a pipeline keyed by (tenant, id) with a numeric amount column
    # THEN the loader's job definition names both tables and the columns
    variables = job_environment(built.template, loader.LOADER_MODULE)
    assert variables[loader.ENV_TARGET_TABLE_NAME] == {
        "Ref": built.logical_id(built.pipeline.table)
    }
    assert variables[loader.ENV_LEDGER_TABLE_NAME] == {
        "Ref": built.logical_id(built.pipeline.ledger)
    }
    assert variables[loader.ENV_KEY_COLUMNS] == "tenant,id"
    assert variables[loader.ENV_NUMERIC_COLUMNS] == "amount"
    # AND the target table is keyed by the same columns
    built.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "tenant", "KeyType": "HASH"},
                {"AttributeName": "id", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_pipeline_submitter_may_only_submit_its_job_and_write_the_ledger(
    built: Pipelines,
) -> None:
    # GIVEN the submitter's role
    statements = built.policy_statements(built.pipeline.submitter.role)
    # THEN it can submit (and cancel a load whose completion it could not submit), claim
    # ledger items, write manifests and its logs: nothing else
    assert _actions(statements) == {
        "batch:SubmitJob",
        "batch:CancelJob",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "s3:PutObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    ledger_id = built.logical_id(built.pipeline.ledger)
    dynamo = [s for s in statements if "dynamodb:PutItem" in s["Action"]]
    assert [s["Resource"] for s in dynamo] == [{"Fn::GetAtt": [ledger_id, "Arn"]}]
    puts = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert [s["Resource"] for s in puts] == [
        {
            "Fn::Join": [
                "",
                [{"Fn::GetAtt": [built.logical_id(built.pipeline.bucket), "Arn"]}, "/manifests/*"],
            ]
        }
    ]


def test_pipeline_loader_reads_incoming_writes_rejected_and_the_two_tables(
    built: Pipelines,
) -> None:
    # GIVEN the loader's job role
    statements = built.policy_statements(built.pipeline.loader_role)
    bucket_arn = {"Fn::GetAtt": [built.logical_id(built.pipeline.bucket), "Arn"]}

    def under(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [bucket_arn, f"/{prefix}*"]]}

    by_action = {
        (s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"])): s["Resource"]
        for s in statements
    }
    # THEN it reads only incoming/ and manifests/, writes only rejected/ and, as the plan
    # job of a large object, manifests/parts/
    assert by_action[("s3:GetObject", "s3:GetObjectVersion")] == [
        under("incoming/"),
        under("manifests/"),
    ]
    assert by_action[("s3:AbortMultipartUpload", "s3:PutObject")] == under("rejected/")
    assert by_action["s3:PutObject"] == under("manifests/parts/")
    # AND writes items to the target table (reading its key schema) and the ledger only
    assert by_action[("dynamodb:BatchWriteItem", "dynamodb:DescribeTable")] == {
        "Fn::GetAtt": [built.logical_id(built.pipeline.table), "Arn"]
    }
    assert by_action["dynamodb:UpdateItem"] == {
        "Fn::GetAtt": [built.logical_id(built.pipeline.ledger), "Arn"]
    }
    assert len(statements) == 5


def test_pipeline_submits_a_completion_job_from_the_loader_image(built: Pipelines) -> None:
    # GIVEN the default pipeline's two job definitions
    completion = job_definition(built.template, loader.COMPLETION_MODULE)
    load = job_definition(built.template, loader.LOADER_MODULE)
    # THEN the completion job runs the loader's image, small, with the tables it needs
    assert completion["Image"] == load["Image"]
    resources = {r["Type"]: r["Value"] for r in completion["ResourceRequirements"]}
    assert resources == {"VCPU": "0.25", "MEMORY": "512"}
    variables = {e["Name"]: e["Value"] for e in completion["Environment"]}
    assert variables[loader.ENV_LEDGER_TABLE_NAME] == {
        "Ref": built.logical_id(built.pipeline.ledger)
    }
    assert variables[loader.ENV_TARGET_TABLE_NAME] == {
        "Ref": built.logical_id(built.pipeline.table)
    }
    # AND it judges a split object's parts by the loader's own reject threshold
    load_variables = {e["Name"]: e["Value"] for e in load["Environment"]}
    assert variables[loader.ENV_REJECT_THRESHOLD] == load_variables[loader.ENV_REJECT_THRESHOLD]
    # AND the submitter is told its definition and may submit it to the pipeline's queue
    submitter_variables = built.template.find_resources("AWS::Lambda::Function")[
        built.logical_id(built.pipeline.submitter)
    ]["Properties"]["Environment"]["Variables"]
    assert submitter_variables[submitter.ENV_COMPLETION_JOB_DEFINITION_ARN] == {
        "Ref": built.stack.get_logical_id(
            built.pipeline.completion.job_definition.node.default_child
        )
    }
    (submits,) = [
        s
        for s in built.policy_statements(built.pipeline.submitter.role)
        if s["Action"] == "batch:SubmitJob"
    ]
    assert len(submits["Resource"]) == 3  # the queue, every revision of each definition


def test_pipeline_completion_reads_the_ledger_and_publishes_only_its_events(
    built: Pipelines,
) -> None:
    # GIVEN the completion job's role
    statements = built.policy_statements(built.pipeline.completion_role)
    by_action = {
        (s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"])): s for s in statements
    }
    # THEN it reads and updates the ledger, reads manifests/,
    ledger_arn = {"Fn::GetAtt": [built.logical_id(built.pipeline.ledger), "Arn"]}
    assert by_action[("dynamodb:BatchGetItem", "dynamodb:UpdateItem")]["Resource"] == ledger_arn
    bucket_arn = {"Fn::GetAtt": [built.logical_id(built.pipeline.bucket), "Arn"]}
    assert by_action["s3:GetObject"]["Resource"] == {"Fn::Join": ["", [bucket_arn, "/manifests/*"]]}
    # AND puts events on the default bus only, of the pipeline's source and detail types
    put = by_action["events:PutEvents"]
    assert put["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":events:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":event-bus/default",
            ],
        ]
    }
    assert put["Condition"] == {
        "ForAllValues:StringEquals": {
            "events:source": [loader.EVENT_SOURCE],
            "events:detail-type": [loader.EVENT_LOAD_COMPLETED, loader.EVENT_LOAD_FAILED],
        }
    }
    assert len(statements) == 3


def test_pipeline_failed_loads_notify_the_alarm_topic(built: Pipelines) -> None:
    # GIVEN the default pipeline
    topic_ref = {"Ref": built.logical_id(built.pipeline.alarm_topic)}
    # THEN its own CsvLoadFailed events reach the topic
    built.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": [loader.EVENT_SOURCE],
                "detail-type": [loader.EVENT_LOAD_FAILED],
                "detail": {"ledger_table": [{"Ref": built.logical_id(built.pipeline.ledger)}]},
            },
            "Targets": [Match.object_like({"Arn": topic_ref})],
        },
    )
    # AND EventBridge may publish to the topic for that rule (and the failed-job rule) only
    (policy,) = built.template.find_resources("AWS::SNS::TopicPolicy").values()
    publishers = [
        s["Condition"]["ArnEquals"]["aws:SourceArn"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert sorted(p["Fn::GetAtt"][0] for p in publishers) == sorted(
        built.logical_id(rule)
        for rule in (built.pipeline.failed_job_rule, built.pipeline.failed_load_rule)
    )


def test_pipeline_failed_jobs_and_alarms_notify_an_encrypted_topic(built: Pipelines) -> None:
    # GIVEN the default pipeline
    topic_ref = {"Ref": built.logical_id(built.pipeline.alarm_topic)}
    # THEN failed jobs on its queue reach the topic
    built.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.batch"],
                "detail-type": ["Batch Job State Change"],
                "detail": {"status": ["FAILED"], "jobQueue": [Match.any_value()]},
            },
            "Targets": [Match.object_like({"Arn": topic_ref})],
        },
    )
    # AND both alarms (DLQ not empty, Lambda errors) notify it
    alarms = built.template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmActions": [topic_ref]}}
    )
    assert sorted(a["Properties"]["MetricName"] for a in alarms.values()) == [
        "ApproximateNumberOfMessagesVisible",
        "Errors",
    ]
    # AND the topic is encrypted with a rotating customer-managed key
    built.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    built.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_pipeline_brings_its_own_fargate_queue_when_none_is_given(built: Pipelines) -> None:
    # GIVEN a pipeline without a queue
    # THEN it runs on Fargate Spot first, Fargate second
    assert built.pipeline.batch_queue.fargate
    assert [env.spot for env in built.pipeline.batch_queue.environments] == [True, False]


def test_pipeline_uses_an_existing_bucket_and_table(built: Pipelines) -> None:
    # GIVEN a pipeline given an existing bucket and table
    # THEN it creates no bucket, and only the ledger table
    built.byo_template.resource_count_is("AWS::S3::Bucket", 0)
    built.byo_template.resource_count_is("AWS::DynamoDB::Table", 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_columns": []}, r"key_columns must name 1 \(partition\) or 2 .* got \[\]"),
        ({"key_columns": ["a", "b", "c"]}, r"key_columns must name .* got \['a', 'b', 'c'\]"),
        (
            {"numeric_columns": ["a,b"]},
            r"numeric_columns must be non-empty names without commas, got \['a,b'\]",
        ),
        ({"key_columns": [""]}, r"key_columns must be non-empty names without commas, got \[''\]"),
        ({"reject_threshold": 1.5}, r"reject_threshold must be between 0 and 1, got 1.5"),
        ({"submitter_concurrency": 0}, r"submitter_concurrency must be between 1 and 1000, got 0"),
        (
            {"boolean_columns": ["amount"], "numeric_columns": ["amount"]},
            r"boolean_columns and numeric_columns must not share columns, got \['amount'\]",
        ),
        (
            {"boolean_columns": ["id"]},
            r"boolean_columns must not name key columns \(DynamoDB keys are STRING, NUMBER or "
            r"BINARY\), got \['id'\]",
        ),
        ({"boolean_columns": ["a,b"]}, r"boolean_columns must be non-empty names without commas"),
        ({"null_values": "NA"}, r"null_values must be Sequence\[str\], got 'NA' \(str\)"),
        ({"null_values": ["NA", None]}, r"null_values\[1\] must be str, got None"),
        ({"null_values": ["\ud800"]}, r"null_values must be Unicode text \(no lone surrogate"),
        (
            {"max_write_rate": 0},
            r"max_write_rate must be a positive number of items per second, got 0",
        ),
        (
            {"expected_write_rate": 4000},
            r"expected_write_rate must be above 4000 write units per second, what a new "
            r"on-demand table takes without pre-warming \(leave it unset\), got 4000",
        ),
        (
            {"expected_write_rate": 40001},
            r"expected_write_rate must be at most 40000 write units per second, DynamoDB's "
            r"default per-table quota .* got 40001",
        ),
        ({"expected_write_rate": 8000.5}, r"expected_write_rate must be int \| None, got 8000.5"),
    ],
    ids=[
        "no-key",
        "three-keys",
        "comma-name",
        "empty-key-name",
        "threshold",
        "concurrency",
        "boolean-and-numeric",
        "boolean-key",
        "boolean-comma",
        "null-values-string",
        "null-values-none",
        "null-values-surrogate",
        "max-write-rate",
        "warm-below-new-table",
        "warm-above-quota",
        "warm-not-integer",
    ],
)
def test_pipeline_rejects_invalid_arguments(kwargs: dict[str, Any], message: str) -> None:
    # GIVEN an invalid argument
    stack = Stack(make_app(), "Invalid")
    # WHEN the pipeline is built THEN it fails naming the argument and the value
    with pytest.raises(ValueError, match=message):
        CsvToDynamoDbPipeline(stack, "Pipeline", **kwargs)


def _loader_environment(template: Template) -> dict[str, Any]:
    return job_environment(template, loader.LOADER_MODULE)


def test_pipeline_loader_gets_only_the_empty_string_as_null_value_by_default(
    built: Pipelines,
) -> None:
    # GIVEN the default pipeline
    # WHEN its loader's environment is read
    variables = _loader_environment(built.template)

    # THEN the only null value is the empty string and there is no boolean column
    assert variables[loader.ENV_NULL_VALUES] == '[""]'
    assert variables[loader.ENV_BOOLEAN_COLUMNS] == ""


def test_pipeline_default_sets_no_write_ceiling_and_no_warm_throughput(built: Pipelines) -> None:
    # GIVEN the default pipeline THEN the loader has no ceiling and no table is pre-warmed
    assert loader.ENV_MAX_WRITE_RATE not in _loader_environment(built.template)
    for table in built.template.find_resources("AWS::DynamoDB::Table").values():
        assert "WarmThroughput" not in table["Properties"]


def test_pipeline_loader_gets_null_values_and_boolean_columns_exactly() -> None:
    # GIVEN null values with characters a comma list could not carry, and boolean columns
    stack = Stack(make_app(), "Formats")
    null_values = ["NA", "NULL", 'a "quoted", value', "line\nbreak", "n\u00e9ant", "NA"]
    CsvToDynamoDbPipeline(
        stack, "Pipeline", null_values=null_values, boolean_columns=["active", "done"]
    )

    # WHEN its loader's environment is read
    variables = _loader_environment(Template.from_stack(stack))

    # THEN every null value arrives as written, once, after the empty string
    assert json.loads(variables[loader.ENV_NULL_VALUES]) == ["", *dict.fromkeys(null_values)]
    assert variables[loader.ENV_NULL_VALUES].isascii()
    assert variables[loader.ENV_BOOLEAN_COLUMNS] == "active,done"


def test_pipeline_table_key_is_a_number_when_the_key_column_is_numeric() -> None:
    # GIVEN a pipeline whose sort key column is numeric
    stack = Stack(make_app(), "NumericKey")
    CsvToDynamoDbPipeline(stack, "Pipeline", key_columns=["tenant", "seq"], numeric_columns=["seq"])

    # WHEN it is synthesized
    template = Template.from_stack(stack)

    # THEN the target table's sort key is a NUMBER and the partition key a STRING
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "tenant", "KeyType": "HASH"},
                {"AttributeName": "seq", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "tenant", "AttributeType": "S"},
                {"AttributeName": "seq", "AttributeType": "N"},
            ],
        },
    )


def _table_v1(stack: Stack, partition: dynamodb.Attribute, sort: dynamodb.Attribute | None) -> Any:
    return dynamodb.Table(stack, "Target", partition_key=partition, sort_key=sort)


def _table_v2(stack: Stack, partition: dynamodb.Attribute, sort: dynamodb.Attribute | None) -> Any:
    return dynamodb.TableV2(stack, "Target", partition_key=partition, sort_key=sort)


_S = dynamodb.AttributeType.STRING
_N = dynamodb.AttributeType.NUMBER
_B = dynamodb.AttributeType.BINARY


@pytest.mark.parametrize("make_table", [_table_v1, _table_v2], ids=["Table", "TableV2"])
@pytest.mark.parametrize(
    ("keys", "numeric", "message"),
    [
        (
            [("id", _N)],
            [],
            r"key column id is NUMBER in table Mismatch/Target but STRING for the loader: "
            r"add it to numeric_columns",
        ),
        (
            [("id", _S), ("seq", _S)],
            ["seq"],
            r"key column seq is STRING in table Mismatch/Target but NUMBER for the loader: "
            r"remove it from numeric_columns",
        ),
        (
            [("id", _B)],
            [],
            r"key column id is BINARY in table Mismatch/Target; the loader writes STRING or NUMBER",
        ),
        (
            [("pk", _S)],
            [],
            r"key_columns \['id'\] must be the key attributes of table Mismatch/Target "
            r"\(partition, then sort\), which are \['pk'\]",
        ),
    ],
    ids=["number-as-string", "string-as-number", "binary", "other-name"],
)
def test_pipeline_rejects_a_table_whose_key_the_loader_cannot_write(
    make_table: Any, keys: list[tuple[str, Any]], numeric: list[str], message: str
) -> None:
    # GIVEN a table the app defines, with key types that do not match the loader's columns
    stack = Stack(make_app(), "Mismatch")
    attributes = [dynamodb.Attribute(name=n, type=t) for n, t in keys]
    table = make_table(stack, attributes[0], attributes[1] if len(attributes) > 1 else None)
    key_columns = ["id", "seq"] if len(keys) > 1 else ["id"]

    # WHEN the pipeline is built on it THEN it fails naming the column and both types
    with pytest.raises(ValueError, match=message):
        CsvToDynamoDbPipeline(
            stack, "Pipeline", table=table, key_columns=key_columns, numeric_columns=numeric
        )


@pytest.mark.parametrize("make_table", [_table_v1, _table_v2], ids=["Table", "TableV2"])
def test_pipeline_accepts_a_table_whose_key_types_match(make_table: Any) -> None:
    # GIVEN a table keyed by a string partition key and a number sort key
    stack = Stack(make_app(), "Matching")
    table = make_table(
        stack, dynamodb.Attribute(name="id", type=_S), dynamodb.Attribute(name="seq", type=_N)
    )

    # WHEN the pipeline loads seq as a number THEN it is built on that table
    pipeline = CsvToDynamoDbPipeline(
        stack, "Pipeline", table=table, key_columns=["id", "seq"], numeric_columns=["seq"]
    )
    assert pipeline.table is table


def test_pipeline_removal_policy_applies_to_data(built: Pipelines) -> None:
    # GIVEN a pipeline asked to destroy its data with the stack
    stack = Stack(make_app(), "Disposable")
    CsvToDynamoDbPipeline(stack, "Pipeline", removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    # THEN tables are deleted with it
    for table in template.find_resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
