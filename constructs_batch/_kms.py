"""Customer-managed KMS keys for log groups: the key policy CloudWatch Logs needs."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

__all__ = ["allow_log_encryption"]


def allow_log_encryption(scope: Construct, key: kms.IKey) -> None:
    """Let CloudWatch Logs in the scope's account and Region use ``key`` for log groups.

    CloudWatch Logs encrypts with the key as its service principal, so the key policy
    (not an IAM policy) must allow it, limited by the encryption context to log groups
    of this account and Region (CloudWatch Logs user guide, "Encrypt log data in
    CloudWatch Logs using AWS KMS"). A key imported from elsewhere keeps its own
    policy: its owner must allow this.
    """
    stack = Stack.of(scope)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogs",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        ),
        allow_no_op=True,
    )
