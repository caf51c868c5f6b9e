"""CsvToDynamoDbPipeline: customer-managed keys, the alarm key's policy, access-log versioning."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from helpers import make_app

from constructs_batch.pipeline import CsvToDynamoDbPipeline
from constructs_batch.testing import nag_findings


class Encrypted:
    """A default pipeline and one given a customer-managed key, each synthesized once."""

    def __init__(self) -> None:
        app = make_app()
        self.default_stack = Stack(app, "Default")
        self.default = CsvToDynamoDbPipeline(self.default_stack, "Pipeline")
        self.stack = Stack(app, "Keyed")
        self.key = kms.Key(self.stack, "DataKey", enable_key_rotation=True)
        self.pipeline = CsvToDynamoDbPipeline(self.stack, "Pipeline", encryption_key=self.key)
        self.template = Template.from_stack(self.stack).to_json()
        self.default_template = Template.from_stack(self.default_stack).to_json()

    def resource(self, template: dict[str, Any], construct: Any) -> dict[str, Any]:
        stack = self.stack if template is self.template else self.default_stack
        props: dict[str, Any] = template["Resources"][
            stack.get_logical_id(construct.node.default_child)
        ]["Properties"]
        return props

    @property
    def key_arn(self) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.stack.get_logical_id(self.key.node.default_child), "Arn"]}


@pytest.fixture(scope="module")
def built() -> Encrypted:
    return Encrypted()


def test_pipeline_key_encrypts_table_ledger_and_log_groups(built: Encrypted) -> None:
    # GIVEN encryption_key
    # WHEN the stack is synthesized
    # THEN the table and the ledger use it, as do the loader's, the completion job's, the
    # submitter's and the default network's flow log groups
    for table in (built.pipeline.table, built.pipeline.ledger):
        sse = built.resource(built.template, table)["SSESpecification"]
        assert sse == {
            "KMSMasterKeyId": built.key_arn,
            "SSEEnabled": True,
            "SSEType": "KMS",
        }
    log_groups = [
        r["Properties"]
        for r in built.template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]
    assert len(log_groups) == 4
    assert all(lg.get("KmsKeyId") == built.key_arn for lg in log_groups)


def test_pipeline_key_is_usable_by_the_loader_the_completion_and_the_submitter(
    built: Encrypted,
) -> None:
    # GIVEN encryption_key
    # WHEN the stack is synthesized
    submitter_role = built.pipeline.submitter.role
    assert submitter_role is not None
    roles = {
        built.stack.get_logical_id(role.node.default_child)  # type: ignore[arg-type]
        for role in (built.pipeline.loader_role, built.pipeline.completion_role, submitter_role)
    }
    # THEN the policies of the three roles allow encrypting and decrypting with it
    granted = set()
    for policy in built.template["Resources"].values():
        if policy["Type"] != "AWS::IAM::Policy":
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == built.key_arn and "kms:Decrypt" in statement["Action"]:
                granted |= {ref["Ref"] for ref in policy["Properties"]["Roles"]}
    assert roles <= granted


def test_pipeline_default_keeps_aws_managed_encryption(built: Encrypted) -> None:
    # GIVEN no encryption_key
    # WHEN the stack is synthesized
    # THEN the tables use the AWS-managed key and the log groups CloudWatch's own: no key
    # is billed while idle but the alarm topic's
    table = built.resource(built.default_template, built.default.table)
    assert table["SSESpecification"] == {"SSEEnabled": True}
    keys = [r for r in built.default_template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert len(keys) == 1


def test_pipeline_alarm_key_lets_only_this_accounts_rules_and_alarms_publish(
    built: Encrypted,
) -> None:
    # GIVEN the default pipeline's alarm topic key
    key = next(
        r for r in built.default_template["Resources"].values() if r["Type"] == "AWS::KMS::Key"
    )
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    # WHEN the statements for EventBridge and CloudWatch are read
    by_service = {
        s["Principal"]["Service"]: s for s in statements if "Service" in s.get("Principal", {})
    }
    # THEN CloudWatch is limited to this account's alarms in this Region, and EventBridge
    # (for which KMS gets no source keys) to this account's SNS topics in this Region
    assert set(by_service) == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    alarms = by_service["cloudwatch.amazonaws.com"]["Condition"]
    assert alarms["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = alarms["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert ":cloudwatch:" in source_arn[0] + source_arn[2] and source_arn[-1] == ":alarm:*"
    topics = by_service["events.amazonaws.com"]["Condition"]["ArnLike"]
    topic_arn = topics["kms:EncryptionContext:aws:sns:topicArn"]["Fn::Join"][1]
    assert ":sns:" in topic_arn[0] + topic_arn[2] and topic_arn[-1] == ":*"


def test_pipeline_topic_admits_eventbridge_for_its_own_rules_only(built: Encrypted) -> None:
    # GIVEN the default pipeline's alarm topic policy
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in built.default_template["Resources"].values()
        if r["Type"] == "AWS::SNS::TopicPolicy"
    ]
    statements = [
        s
        for doc in policies
        for s in doc
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    # THEN EventBridge may publish only for the pipeline's rules, each by its ARN
    rules = {
        built.default_stack.get_logical_id(rule.node.default_child)  # type: ignore[arg-type]
        for rule in (built.default.failed_job_rule,)
    }
    assert statements and all("aws:SourceArn" in s["Condition"]["ArnEquals"] for s in statements)
    named = {s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0] for s in statements}
    assert rules <= named


def test_pipeline_access_log_bucket_is_versioned(built: Encrypted) -> None:
    # GIVEN the default pipeline
    # WHEN the stack is synthesized
    buckets = [
        r for r in built.default_template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"
    ]
    # THEN both the input bucket and its access-log bucket keep object versions
    assert len(buckets) == 2
    assert all(b["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"} for b in buckets)


def test_pipeline_with_key_passes_cdk_nag(built: Encrypted) -> None:
    # GIVEN the pipeline with a customer-managed key
    # THEN cdk-nag finds nothing new
    assert nag_findings(built.stack) == []
