"""BatchNetwork: one synth per profile, fine-grained assertions per behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from constructs import IConstruct
from helpers import make_app

from constructs_batch.network import ISOLATED_INTERFACE_ENDPOINTS, BatchNetwork, NetworkProfile
from constructs_batch.testing import nag_findings


@dataclass
class Built:
    stack: Stack
    network: BatchNetwork
    template: Template


@pytest.fixture(scope="module")
def built() -> dict[str, Built]:
    """Every configuration in one app, built before any synth, each synthesized once."""
    app = make_app()
    networks: dict[str, tuple[Stack, BatchNetwork]] = {}
    stack = Stack(app, "Public")
    networks["PUBLIC"] = (stack, BatchNetwork(stack, "Network"))
    stack = Stack(app, "PrivateNat")
    networks["PRIVATE_NAT"] = (
        stack,
        BatchNetwork(
            stack,
            "Network",
            profile=NetworkProfile.PRIVATE_NAT,
            nat_gateways=2,
            cidr="10.20.0.0/16",
        ),
    )
    stack = Stack(app, "Isolated")
    networks["ISOLATED"] = (stack, BatchNetwork(stack, "Network", profile=NetworkProfile.ISOLATED))
    return {
        name: Built(stack, network, Template.from_stack(stack))
        for name, (stack, network) in networks.items()
    }


def _logical_id(construct: IConstruct) -> str:
    child = construct.node.default_child
    assert isinstance(child, ec2.CfnSecurityGroup)
    return str(Stack.of(construct).resolve(Stack.of(construct).get_logical_id(child)))


def _interface_endpoints(template: Template) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(
        "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}
    )
    return found


def _gateway_service(service: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{service}"]]}


# --- PUBLIC (the default) -----------------------------------------------------------
def test_network_defaults_to_public_profile(built: dict[str, Built]) -> None:
    # GIVEN a BatchNetwork built with no arguments
    network = built["PUBLIC"].network
    # THEN it is the PUBLIC profile, running jobs in public subnets with a public IP
    assert network.profile is NetworkProfile.PUBLIC
    assert network.job_subnets.subnet_type == ec2.SubnetType.PUBLIC
    assert network.assign_public_ip is True


def test_network_public_has_no_nat_gateway_and_no_interface_endpoint(
    built: dict[str, Built],
) -> None:
    # GIVEN the PUBLIC profile
    public = built["PUBLIC"]
    # THEN nothing in it costs money while idle
    public.template.resource_count_is("AWS::EC2::NatGateway", 0)
    assert _interface_endpoints(public.template) == {}
    assert public.network.nat_gateway_count == 0
    assert public.network.interface_endpoints == {}


@pytest.mark.parametrize("profile", ["PUBLIC", "PRIVATE_NAT", "ISOLATED"])
def test_network_has_s3_and_dynamodb_gateway_endpoints(
    built: dict[str, Built], profile: str
) -> None:
    # GIVEN a new VPC of any profile
    template = built[profile].template
    # THEN it has the free S3 and DynamoDB gateway endpoints
    for service in ("s3", "dynamodb"):
        template.has_resource_properties(
            "AWS::EC2::VPCEndpoint",
            {"VpcEndpointType": "Gateway", "ServiceName": _gateway_service(service)},
        )


@pytest.mark.parametrize("profile", ["PUBLIC", "PRIVATE_NAT", "ISOLATED"])
def test_network_sends_flow_logs_to_a_log_group_with_retention(
    built: dict[str, Built], profile: str
) -> None:
    # GIVEN a new VPC of any profile
    template = built[profile].template
    # THEN all its traffic is logged to CloudWatch Logs, kept for a month
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_network_restricts_the_default_security_group(built: dict[str, Built]) -> None:
    # GIVEN a new VPC
    template = built["PUBLIC"].template
    # THEN the custom resource that strips the default security group's rules is there
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_network_sets_no_custom_physical_names(built: dict[str, Built]) -> None:
    # GIVEN a new VPC
    template = built["ISOLATED"].template
    # THEN neither its log group nor its security groups have a fixed name
    template.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": Match.absent()})
    for resource in template.find_resources("AWS::EC2::SecurityGroup").values():
        assert "GroupName" not in resource["Properties"]


@pytest.mark.parametrize("profile", ["PUBLIC", "PRIVATE_NAT", "ISOLATED"])
def test_network_security_group_has_no_inbound_rule(built: dict[str, Built], profile: str) -> None:
    # GIVEN the security group a network gives compute
    b = built[profile]
    sg_id = _logical_id(b.network.security_group)
    resources = b.template.to_json()["Resources"]
    # THEN it allows all outbound traffic and no inbound traffic at all
    assert "SecurityGroupIngress" not in resources[sg_id]["Properties"]
    assert resources[sg_id]["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "Allow all outbound traffic by default",
            "IpProtocol": "-1",
        }
    ]
    ingress_into_sg = b.template.find_resources(
        "AWS::EC2::SecurityGroupIngress",
        {"Properties": {"GroupId": {"Fn::GetAtt": [sg_id, "GroupId"]}}},
    )
    assert ingress_into_sg == {}


@pytest.mark.parametrize("profile", ["PUBLIC", "PRIVATE_NAT", "ISOLATED"])
def test_network_passes_cdk_nag(built: dict[str, Built], profile: str) -> None:
    # GIVEN a network of one profile in its default configuration
    # WHEN cdk-nag's AwsSolutions pack checks it
    # THEN nothing is left unacknowledged
    assert nag_findings(built[profile].stack) == []


# --- PRIVATE_NAT ----------------------------------------------------------------------
def test_network_private_nat_creates_the_requested_nat_gateways(built: dict[str, Built]) -> None:
    # GIVEN PRIVATE_NAT with nat_gateways=2
    b = built["PRIVATE_NAT"]
    # THEN there are two NAT gateways and jobs run in the private subnets without public IP
    b.template.resource_count_is("AWS::EC2::NatGateway", 2)
    assert b.network.nat_gateway_count == 2
    assert b.network.job_subnets.subnet_type == ec2.SubnetType.PRIVATE_WITH_EGRESS
    assert b.network.assign_public_ip is False


def test_network_uses_the_given_cidr(built: dict[str, Built]) -> None:
    # GIVEN cidr="10.20.0.0/16"
    # THEN the VPC has that CIDR block
    built["PRIVATE_NAT"].template.has_resource_properties(
        "AWS::EC2::VPC", {"CidrBlock": "10.20.0.0/16"}
    )


# --- ISOLATED ---------------------------------------------------------------------------
def test_network_isolated_has_no_route_to_the_internet(built: dict[str, Built]) -> None:
    # GIVEN the ISOLATED profile
    b = built["ISOLATED"]
    # THEN there is no internet gateway, no NAT gateway, and jobs run in isolated subnets
    b.template.resource_count_is("AWS::EC2::InternetGateway", 0)
    b.template.resource_count_is("AWS::EC2::NatGateway", 0)
    assert b.network.job_subnets.subnet_type == ec2.SubnetType.PRIVATE_ISOLATED
    assert b.network.assign_public_ip is False


def test_network_isolated_has_interface_endpoints_for_batch_jobs(built: dict[str, Built]) -> None:
    # GIVEN the ISOLATED profile
    b = built["ISOLATED"]
    # THEN it has one private-DNS interface endpoint per service Batch jobs call
    assert set(b.network.interface_endpoints) == {
        "ecr.api",
        "ecr.dkr",
        "ecs",
        "ecs-agent",
        "ecs-telemetry",
        "logs",
        "secretsmanager",
        "ssm",
    }
    endpoints = _interface_endpoints(b.template)
    assert len(endpoints) == len(ISOLATED_INTERFACE_ENDPOINTS)
    assert all(e["Properties"]["PrivateDnsEnabled"] is True for e in endpoints.values())


def test_network_endpoints_accept_https_from_compute_only(built: dict[str, Built]) -> None:
    # GIVEN the ISOLATED profile's endpoint security group
    b = built["ISOLATED"]
    assert b.network.endpoint_security_group is not None
    endpoint_sg = _logical_id(b.network.endpoint_security_group)
    compute_sg = _logical_id(b.network.security_group)
    # THEN its only inbound rule is HTTPS from the compute security group
    b.template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": [endpoint_sg, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [compute_sg, "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
        },
    )
    assert (
        "SecurityGroupIngress" not in b.template.to_json()["Resources"][endpoint_sg]["Properties"]
    )


# --- an existing VPC (construct-time behaviour: no synth) ------------------------------
def _existing(**subnet_ids: list[str]) -> ec2.IVpc:
    stack = Stack(make_app(), "Existing")
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-1",
        availability_zones=["az-a", "az-b"],
        **subnet_ids,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("subnets", "expected_type", "public_ip"),
    [
        pytest.param(
            {"public_subnet_ids": ["p1", "p2"], "private_subnet_ids": ["q1", "q2"]},
            ec2.SubnetType.PRIVATE_WITH_EGRESS,
            False,
            id="private-first",
        ),
        pytest.param(
            {"public_subnet_ids": ["p1", "p2"], "isolated_subnet_ids": ["i1", "i2"]},
            ec2.SubnetType.PUBLIC,
            True,
            id="then-public",
        ),
        pytest.param(
            {"isolated_subnet_ids": ["i1", "i2"]},
            ec2.SubnetType.PRIVATE_ISOLATED,
            False,
            id="then-isolated",
        ),
    ],
)
def test_network_existing_vpc_picks_job_subnets(
    subnets: dict[str, list[str]], expected_type: ec2.SubnetType, public_ip: bool
) -> None:
    # GIVEN an existing VPC with these subnets
    vpc = _existing(**subnets)
    # WHEN a BatchNetwork uses it
    network = BatchNetwork(vpc.stack, "Network", vpc=vpc)
    # THEN jobs run in private subnets with egress, else public (with a public IP), else isolated
    assert network.vpc is vpc
    assert network.profile is None
    assert network.nat_gateway_count == 0
    assert network.job_subnets.subnet_type == expected_type
    assert network.assign_public_ip is public_ip


def test_network_existing_vpc_honours_subnet_selection() -> None:
    # GIVEN an existing VPC with private and public subnets
    vpc = _existing(public_subnet_ids=["p1", "p2"], private_subnet_ids=["q1", "q2"])
    selection = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    # WHEN a BatchNetwork is told to use its public subnets
    network = BatchNetwork(vpc.stack, "Network", vpc=vpc, subnet_selection=selection)
    # THEN jobs run there, with a public IP
    assert network.job_subnets is selection
    assert network.assign_public_ip is True


# --- Availability Zones: what is asked is what the template holds ------------------------
def test_network_in_agnostic_stack_refuses_more_zones_than_cdk_gives() -> None:
    # GIVEN a stack without an account and Region (CDK can pick 2 zones there)
    stack = Stack(make_app(), "Agnostic")
    # WHEN a network over 3 zones is asked for
    # THEN it fails, naming max_azs and the ways out
    with pytest.raises(
        ValueError,
        match=r"max_azs must be at most 2 in a stack without an account and Region .*got 3: "
        r"give the stack env=Environment\(account=..., region=...\), or name the zones with "
        r"availability_zones=\[...\]",
    ):
        BatchNetwork(stack, "Network", max_azs=3)


def test_network_with_an_environment_gets_the_zones_asked_for() -> None:
    # GIVEN a stack with an account and Region whose zones are in the context
    stack = Stack(
        make_app(
            **{
                "availability-zones:account=111122223333:region=eu-west-1": [
                    "eu-west-1a",
                    "eu-west-1b",
                    "eu-west-1c",
                ]
            }
        ),
        "WithEnv",
        env={"account": "111122223333", "region": "eu-west-1"},
    )
    # WHEN a PRIVATE_NAT network over 3 zones with 3 NAT gateways is built
    network = BatchNetwork(
        stack, "Network", profile=NetworkProfile.PRIVATE_NAT, max_azs=3, nat_gateways=3
    )
    template = Template.from_stack(stack)
    # THEN the template has 3 zones' subnets and 3 NAT gateways, as the attributes say
    assert network.availability_zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    template.resource_count_is("AWS::EC2::NatGateway", 3)
    assert network.nat_gateway_count == 3


def test_network_attributes_report_what_the_template_holds_when_the_region_is_smaller() -> None:
    # GIVEN a Region (in the context) with only 2 zones
    stack = Stack(
        make_app(
            **{
                "availability-zones:account=111122223333:region=eu-south-2": [
                    "eu-south-2a",
                    "eu-south-2b",
                ]
            }
        ),
        "SmallRegion",
        env={"account": "111122223333", "region": "eu-south-2"},
    )
    # WHEN 3 zones and 3 NAT gateways are asked for
    network = BatchNetwork(
        stack, "Network", profile=NetworkProfile.PRIVATE_NAT, max_azs=3, nat_gateways=3
    )
    # THEN the attributes report the 2 zones and 2 NAT gateways the template holds
    Template.from_stack(stack).resource_count_is("AWS::EC2::NatGateway", 2)
    assert (len(network.availability_zones), network.nat_gateway_count) == (2, 2)


def test_network_named_zones_work_in_an_agnostic_stack() -> None:
    # GIVEN an environment-agnostic stack and 3 zones named explicitly
    stack = Stack(make_app(), "Named")
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    # WHEN the network is built
    network = BatchNetwork(stack, "Network", availability_zones=zones)
    # THEN its subnets are in exactly those zones
    subnets = Template.from_stack(stack).find_resources("AWS::EC2::Subnet")
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets.values()) == zones
    assert network.availability_zones == zones


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"availability_zones": ["us-east-1a"], "max_azs": 1},
            "availability_zones cannot be combined with max_azs",
        ),
        ({"availability_zones": ["east"]}, "availability_zones must be zone names such as"),
        (
            {"availability_zones": ["us-east-1a", "us-east-1a"]},
            "availability_zones must not repeat a zone",
        ),
        (
            {
                "availability_zones": ["us-east-1a", "us-east-1b"],
                "profile": NetworkProfile.PRIVATE_NAT,
                "nat_gateways": 3,
            },
            r"nat_gateways must be between 1 and len\(availability_zones\) \(2\), got 3",
        ),
    ],
)
def test_network_refuses_invalid_zones(kwargs: dict[str, Any], message: str) -> None:
    # GIVEN invalid zone settings
    # WHEN the network is built
    # THEN a ValueError names the argument
    with pytest.raises(ValueError, match=message):
        BatchNetwork(Stack(make_app(), "BadZones"), "Network", **kwargs)


def test_network_flow_log_group_uses_the_key_given() -> None:
    # GIVEN a customer-managed key for the flow logs
    stack = Stack(make_app(), "FlowLogKey")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    # WHEN the network is built
    BatchNetwork(stack, "Network", flow_log_encryption_key=key)
    template = Template.from_stack(stack)
    # THEN the flow log group is encrypted with it and CloudWatch Logs may use the key
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with([Match.object_like({"Sid": "AllowCloudWatchLogs"})])
            }
        },
    )
    assert nag_findings(stack) == []
