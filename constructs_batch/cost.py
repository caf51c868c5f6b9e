"""Estimated fixed monthly cost of a synthesized template: what it costs while idle.

Only resources billed whatever the load are counted: NAT gateways and interface VPC
endpoints (one hourly charge per endpoint per AZ), and CloudWatch dashboards (a monthly
charge each beyond the account's first three, counted as if those were used up).
Everything else in this library (Batch, Fargate, Spot, S3, DynamoDB on-demand, gateway
endpoints) costs nothing while idle. Prices are us-east-1 list prices
(../shared/AWS_FACTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["HOURS_PER_MONTH", "FixedCost", "estimate_fixed_monthly_cost"]

#: Hours in an average month (730), the convention of the AWS pricing pages.
HOURS_PER_MONTH = 730
#: NAT gateway, per hour (us-east-1).
NAT_GATEWAY_HOURLY_USD = 0.045
#: Interface VPC endpoint, per hour per AZ (us-east-1).
INTERFACE_ENDPOINT_HOURLY_USD = 0.01
#: CloudWatch dashboard, per month, beyond the first three of an account.
DASHBOARD_MONTHLY_USD = 3.0


@dataclass(frozen=True)
class FixedCost:
    """The fixed-cost resources of a template and their monthly cost in USD."""

    nat_gateways: int
    interface_endpoint_azs: int
    dashboards: int = 0

    @property
    def monthly_usd(self) -> float:
        """Estimated fixed cost per month, rounded to cents."""
        hourly = (
            self.nat_gateways * NAT_GATEWAY_HOURLY_USD
            + self.interface_endpoint_azs * INTERFACE_ENDPOINT_HOURLY_USD
        )
        return round(hourly * HOURS_PER_MONTH + self.dashboards * DASHBOARD_MONTHLY_USD, 2)


def estimate_fixed_monthly_cost(template: Mapping[str, Any]) -> FixedCost:
    """Count the fixed-cost resources of a CloudFormation template.

    An interface endpoint is billed once per subnet (AZ) it is placed in.
    """
    resources: Mapping[str, Any] = template.get("Resources", {})
    nat = 0
    endpoint_azs = 0
    dashboards = 0
    for resource in resources.values():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        if kind == "AWS::EC2::NatGateway":
            nat += 1
        elif kind == "AWS::EC2::VPCEndpoint" and props.get("VpcEndpointType") == "Interface":
            subnets = props.get("SubnetIds", [])
            endpoint_azs += len(subnets) if isinstance(subnets, list) else 1
        elif kind == "AWS::CloudWatch::Dashboard":
            dashboards += 1
    return FixedCost(nat_gateways=nat, interface_endpoint_azs=endpoint_azs, dashboards=dashboards)
