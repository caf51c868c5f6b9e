"""The fixed monthly cost estimate counts NAT gateways and interface endpoints per AZ."""

from __future__ import annotations

import pytest

from constructs_batch.cost import estimate_fixed_monthly_cost


def test_cost_counts_nat_gateways_and_interface_endpoint_azs() -> None:
    # GIVEN one NAT gateway, one interface endpoint in two subnets, and a gateway endpoint
    template = {
        "Resources": {
            "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
            "Ecr": {
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {"VpcEndpointType": "Interface", "SubnetIds": ["a", "b"]},
            },
            "S3": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}},
        }
    }
    # WHEN estimated
    cost = estimate_fixed_monthly_cost(template)
    # THEN 1 NAT and 2 endpoint-AZs: 730 h * (0.045 + 2 * 0.01)
    assert (cost.nat_gateways, cost.interface_endpoint_azs) == (1, 2)
    assert cost.monthly_usd == pytest.approx(47.45)


def test_cost_of_an_empty_template_is_zero() -> None:
    assert estimate_fixed_monthly_cost({"Resources": {}}).monthly_usd == 0


def test_cost_counts_dashboards_at_their_monthly_price() -> None:
    # GIVEN a template with one dashboard
    template = {"Resources": {"Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}}}
    # WHEN estimated
    cost = estimate_fixed_monthly_cost(template)
    # THEN it costs $3 a month (beyond the account's first three dashboards)
    assert (cost.dashboards, cost.monthly_usd) == (1, 3.0)
