"""The network AWS Batch compute runs in: a new VPC built from a cost profile, or yours.

Pick a :class:`NetworkProfile` knowing what it costs while idle:

- ``PUBLIC``: public subnets, no NAT gateway, no interface endpoint: $0 idle. Jobs get a
  public IP (inbound is still closed by the security group).
- ``PRIVATE_NAT``: private subnets with egress through NAT gateways (1 by default,
  about $33/month each plus data).
- ``ISOLATED``: no internet at all; interface endpoints for what Batch jobs need
  (about $7.30/month per endpoint per AZ).

Every new VPC has S3 and DynamoDB gateway endpoints (free), VPC flow logs to a
CloudWatch log group with retention, and a default security group with no rules.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Sequence

from aws_cdk import Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_batch._arguments import checked_arguments
from constructs_batch._kms import allow_log_encryption
from constructs_batch.limits import (
    AGNOSTIC_STACK_AZS,
    AVAILABILITY_ZONE_PATTERN,
    MAX_VPC_PREFIX_LENGTH,
    MIN_MAX_AZS,
    MIN_VPC_PREFIX_LENGTH,
    is_token,
    raise_if_errors,
)

__all__ = [
    "DEFAULT_FLOW_LOG_RETENTION",
    "DEFAULT_MAX_AZS",
    "DEFAULT_NAT_GATEWAYS",
    "DEFAULT_PROFILE",
    "ISOLATED_INTERFACE_ENDPOINTS",
    "BatchNetwork",
    "NetworkProfile",
]


class NetworkProfile(enum.Enum):
    """How a new VPC reaches AWS services and the internet, and what it costs idle."""

    #: Public subnets only, no NAT gateway: $0 while idle. Jobs need a public IP.
    PUBLIC = "PUBLIC"
    #: Private subnets with egress through NAT gateways (1 by default).
    PRIVATE_NAT = "PRIVATE_NAT"
    #: Isolated subnets, no internet; interface endpoints for ECR, ECS, logs and secrets.
    ISOLATED = "ISOLATED"


#: The library's defaults cost nothing while idle.
DEFAULT_PROFILE = NetworkProfile.PUBLIC
DEFAULT_MAX_AZS = 2
#: One NAT gateway serves every AZ: an AZ outage cuts egress, but each extra
#: gateway costs about $33/month before data.
DEFAULT_NAT_GATEWAYS = 1
DEFAULT_FLOW_LOG_RETENTION = logs.RetentionDays.ONE_MONTH

#: Interface endpoints of the ISOLATED profile, by service short name. With no route to
#: the internet, every AWS API a Batch job or its host calls needs one:
#: - ecr.api, ecr.dkr: the ECS agent (EC2) and Fargate authenticate to ECR and pull
#:   image manifests (the layers come from S3, through the free S3 gateway endpoint).
#: - ecs, ecs-agent, ecs-telemetry: the ECS agent on Batch-managed EC2 instances
#:   registers with the cluster, receives tasks (and task-role credentials) and
#:   reports metrics. Fargate does not need them, EC2 compute cannot run without.
#: - logs: the awslogs driver ships job output to CloudWatch Logs.
#: - secretsmanager, ssm: secrets a job definition injects from Secrets Manager or
#:   SSM Parameter Store are fetched through them when the container starts.
#: Not included: sts (task-role credentials come from the ECS agent, not STS; add it
#: if jobs assume other roles) and kms (Secrets Manager and SSM decrypt server-side).
ISOLATED_INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "ecr.api": ec2.InterfaceVpcEndpointAwsService.ECR,
    "ecr.dkr": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
    "ecs-agent": ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
    "ecs-telemetry": ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
    "logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "secretsmanager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
}

_JOB_SUBNET_TYPE = {
    NetworkProfile.PUBLIC: ec2.SubnetType.PUBLIC,
    NetworkProfile.PRIVATE_NAT: ec2.SubnetType.PRIVATE_WITH_EGRESS,
    NetworkProfile.ISOLATED: ec2.SubnetType.PRIVATE_ISOLATED,
}


class BatchNetwork(Construct):
    """A VPC, the subnets and the security group AWS Batch compute environments use.

    Either builds a new VPC from a :class:`NetworkProfile`, or uses an existing VPC
    passed as ``vpc`` (then no VPC setting may be given).

    Attributes:
        vpc: the VPC (new or the one passed in).
        profile: the profile of a new VPC; None for an existing VPC.
        job_subnets: the subnets compute environments launch into.
        assign_public_ip: True when the job subnets are public: Fargate jobs then need
            a public IP to reach ECR and the internet.
        security_group: the security group for compute: no inbound rule, all outbound.
        interface_endpoints: the interface endpoints created, by service short name.
        endpoint_security_group: the security group of the interface endpoints (HTTPS
            from ``security_group`` only); None when there are no endpoints.
        nat_gateway_count: NAT gateways in the template (0 for PUBLIC, ISOLATED or an
            existing VPC; never more than the VPC's Availability Zones).
        availability_zones: the Availability Zones of the VPC as the template holds them
            (tokens in an environment-agnostic stack).
        flow_log: the VPC flow log; None for an existing VPC.
    """

    @checked_arguments
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        profile: NetworkProfile | None = None,
        vpc: ec2.IVpc | None = None,
        max_azs: int | None = None,
        nat_gateways: int | None = None,
        cidr: str | None = None,
        flow_log_retention: logs.RetentionDays | None = None,
        flow_log_encryption_key: kms.IKey | None = None,
        availability_zones: Sequence[str] | None = None,
        subnet_selection: ec2.SubnetSelection | None = None,
    ) -> None:
        """Build the network.

        Args:
            scope: the parent construct.
            construct_id: the construct id.
            profile: the cost profile of a new VPC. Default: ``NetworkProfile.PUBLIC``.
            vpc: an existing VPC to use instead of building one. Default: a new VPC.
            max_azs: Availability Zones of a new VPC, at least 1; in a stack without an
                account and Region CDK can pick only 2, so more fails here (give the
                stack an ``env``, or name them in ``availability_zones``). Default: 2.
            nat_gateways: NAT gateways of a ``PRIVATE_NAT`` VPC, 1 to its number of
                Availability Zones. Default: 1.
            cidr: IPv4 CIDR of a new VPC, /16 to /28. Default: the CDK default
                (10.0.0.0/16).
            flow_log_retention: how long flow logs of a new VPC are kept.
                Default: one month.
            flow_log_encryption_key: a customer-managed KMS key for the flow log group;
                a key defined in the app gets the key policy statement CloudWatch Logs
                needs. Default: None (CloudWatch Logs' own encryption).
            availability_zones: the Availability Zones of a new VPC by name (such as
                ``["eu-west-1a", "eu-west-1b", "eu-west-1c"]``), instead of
                ``max_azs``. Default: None (``max_azs`` zones CDK picks).
            subnet_selection: subnets of an existing ``vpc`` to run jobs in.
                Default: its private subnets with egress, else its public subnets,
                else its isolated subnets.
        """
        _validate(
            profile=profile,
            vpc=vpc,
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            cidr=cidr,
            flow_log_retention=flow_log_retention,
            flow_log_encryption_key=flow_log_encryption_key,
            availability_zones=availability_zones,
            subnet_selection=subnet_selection,
            agnostic=_environment_agnostic(scope),
        )
        super().__init__(scope, construct_id)

        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        self.flow_log: ec2.FlowLog | None = None
        self.profile: NetworkProfile | None
        self.vpc: ec2.IVpc
        self.job_subnets: ec2.SubnetSelection
        self.assign_public_ip: bool
        self.nat_gateway_count: int

        if vpc is not None:
            self.vpc = vpc
            self.profile = None
            self.nat_gateway_count = 0
            self.job_subnets = subnet_selection or _default_job_subnets(vpc)
            self.assign_public_ip = _all_public(vpc, self.job_subnets)
        else:
            self.profile = profile or DEFAULT_PROFILE
            self.nat_gateway_count = (
                (nat_gateways or DEFAULT_NAT_GATEWAYS)
                if self.profile is NetworkProfile.PRIVATE_NAT
                else 0
            )
            self.vpc = self._new_vpc(
                max_azs=None if availability_zones else (max_azs or DEFAULT_MAX_AZS),
                availability_zones=availability_zones,
                cidr=cidr,
                flow_log_retention=flow_log_retention or DEFAULT_FLOW_LOG_RETENTION,
                flow_log_encryption_key=flow_log_encryption_key,
            )
            # What the template holds: CDK makes at most one NAT gateway per zone.
            self.nat_gateway_count = min(self.nat_gateway_count, len(self.vpc.availability_zones))
            self.job_subnets = ec2.SubnetSelection(subnet_type=_JOB_SUBNET_TYPE[self.profile])
            self.assign_public_ip = self.profile is NetworkProfile.PUBLIC
        self.availability_zones: list[str] = list(self.vpc.availability_zones)

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description="AWS Batch compute: no inbound, all outbound",
            allow_all_outbound=True,
        )
        self.endpoint_security_group: ec2.SecurityGroup | None = None
        if self.profile is NetworkProfile.ISOLATED:
            self.endpoint_security_group = self._add_interface_endpoints()

    def _new_vpc(
        self,
        *,
        max_azs: int | None,
        availability_zones: Sequence[str] | None,
        cidr: str | None,
        flow_log_retention: logs.RetentionDays,
        flow_log_encryption_key: kms.IKey | None,
    ) -> ec2.Vpc:
        assert self.profile is not None
        subnets = {
            NetworkProfile.PUBLIC: [
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
            ],
            NetworkProfile.PRIVATE_NAT: [
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
            NetworkProfile.ISOLATED: [
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
        }[self.profile]
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=max_azs,
            availability_zones=list(availability_zones) if availability_zones else None,
            nat_gateways=self.nat_gateway_count,
            ip_addresses=ec2.IpAddresses.cidr(cidr) if cidr else None,
            subnet_configuration=subnets,
            # Gateway endpoints are free and keep S3 (ECR image layers, data) and
            # DynamoDB traffic off the NAT gateway and the internet.
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
            # Also set by cdk.json's feature flag; explicit so that apps without it
            # get a default security group that allows nothing (cdk-nag EC2 rules).
            restrict_default_security_group=True,
        )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            retention=flow_log_retention,
            encryption_key=flow_log_encryption_key,
        )
        if flow_log_encryption_key is not None:
            allow_log_encryption(self, flow_log_encryption_key)
        self.flow_log = vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    def _add_interface_endpoints(self) -> ec2.SecurityGroup:
        # One security group for every endpoint, open to HTTPS from the compute security
        # group only (allow more with endpoint_security_group.add_ingress_rule).
        endpoint_sg = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from AWS Batch compute",
            allow_all_outbound=False,
        )
        endpoint_sg.add_ingress_rule(
            self.security_group, ec2.Port.tcp(443), "HTTPS from AWS Batch compute"
        )
        for name, service in ISOLATED_INTERFACE_ENDPOINTS.items():
            construct_id = "".join(part.capitalize() for part in name.replace("-", ".").split("."))
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                f"{construct_id}Endpoint",
                service=service,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                security_groups=[endpoint_sg],
                open=False,
                private_dns_enabled=True,
            )
        return endpoint_sg


def _validate(
    *,
    profile: NetworkProfile | None,
    vpc: ec2.IVpc | None,
    max_azs: int | None,
    nat_gateways: int | None,
    cidr: str | None,
    flow_log_retention: logs.RetentionDays | None,
    flow_log_encryption_key: kms.IKey | None,
    availability_zones: Sequence[str] | None,
    subnet_selection: ec2.SubnetSelection | None,
    agnostic: bool,
) -> None:
    errors: list[str] = []
    if vpc is not None:
        new_vpc_settings = {
            "profile": profile,
            "max_azs": max_azs,
            "nat_gateways": nat_gateways,
            "cidr": cidr,
            "flow_log_retention": flow_log_retention,
            "flow_log_encryption_key": flow_log_encryption_key,
            "availability_zones": availability_zones,
        }
        given = [name for name, value in new_vpc_settings.items() if value is not None]
        if given:
            errors.append(
                f"vpc cannot be combined with {', '.join(given)}: they configure a new VPC, "
                "pass either an existing vpc or settings for a new one"
            )
        raise_if_errors(errors)
        return

    if subnet_selection is not None:
        errors.append("subnet_selection is only allowed with an existing vpc, got no vpc")
    if max_azs is not None and not is_token(max_azs) and max_azs < MIN_MAX_AZS:
        errors.append(f"max_azs must be at least {MIN_MAX_AZS}, got {max_azs}")
    elif availability_zones is not None:
        errors.extend(_availability_zone_errors(availability_zones, max_azs))
    elif (
        agnostic and max_azs is not None and not is_token(max_azs) and max_azs > AGNOSTIC_STACK_AZS
    ):
        errors.append(
            f"max_azs must be at most {AGNOSTIC_STACK_AZS} in a stack without an account and "
            f"Region (CDK then picks {AGNOSTIC_STACK_AZS} Availability Zones whatever is asked), "
            f"got {max_azs}: give the stack env=Environment(account=..., region=...), or name "
            "the zones with availability_zones=[...]"
        )
    effective_profile = profile or DEFAULT_PROFILE
    if nat_gateways is not None and not is_token(nat_gateways):
        if effective_profile is not NetworkProfile.PRIVATE_NAT:
            errors.append(
                "nat_gateways is only allowed with profile=NetworkProfile.PRIVATE_NAT, "
                f"got profile=NetworkProfile.{effective_profile.name}"
            )
        else:
            if availability_zones:
                azs, limit = len(availability_zones), "len(availability_zones)"
            else:
                limit = "max_azs"
                azs = max_azs if max_azs is not None and not is_token(max_azs) else DEFAULT_MAX_AZS
            if not 1 <= nat_gateways <= max(azs, 1):
                errors.append(
                    f"nat_gateways must be between 1 and {limit} ({azs}), got {nat_gateways}"
                )
    if cidr is not None and not is_token(cidr):
        errors.extend(_check_cidr(cidr))
    raise_if_errors(errors)


def _environment_agnostic(scope: Construct) -> bool:
    stack = Stack.of(scope)
    return Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region)


def _availability_zone_errors(zones: Sequence[str], max_azs: int | None) -> list[str]:
    if max_azs is not None:
        return [
            "availability_zones cannot be combined with max_azs: the zones named are the "
            f"VPC's zones, got max_azs={max_azs}"
        ]
    names = [z for z in zones if not is_token(z)]
    errors = [
        f"availability_zones must be zone names such as 'eu-west-1a', got {z!r}"
        for z in names
        if not re.fullmatch(AVAILABILITY_ZONE_PATTERN, z)
    ]
    if not zones:
        errors.append("availability_zones must name at least one zone, got []")
    if len(set(names)) != len(names):
        errors.append(f"availability_zones must not repeat a zone, got {list(zones)}")
    return errors


def _check_cidr(cidr: str) -> list[str]:
    allowed = (
        f"cidr must be an IPv4 CIDR block with a prefix length between "
        f"/{MIN_VPC_PREFIX_LENGTH} and /{MAX_VPC_PREFIX_LENGTH}"
    )
    try:
        network = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        return [f"{allowed}, got {cidr!r}"]
    if not MIN_VPC_PREFIX_LENGTH <= network.prefixlen <= MAX_VPC_PREFIX_LENGTH:
        return [f"{allowed}, got {cidr!r}"]
    return []


def _default_job_subnets(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    if vpc.private_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    if vpc.public_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


def select(vpc: ec2.IVpc, selection: ec2.SubnetSelection) -> ec2.SelectedSubnets:
    """The subnets of ``vpc`` that ``selection`` picks."""
    return vpc.select_subnets(
        availability_zones=selection.availability_zones,
        one_per_az=selection.one_per_az,
        subnet_filters=selection.subnet_filters,
        subnet_group_name=selection.subnet_group_name,
        subnets=selection.subnets,
        subnet_type=selection.subnet_type,
    )


def _all_public(vpc: ec2.IVpc, selection: ec2.SubnetSelection) -> bool:
    """Whether every selected subnet is a public subnet of the VPC."""
    public = {subnet.subnet_id for subnet in vpc.public_subnets}
    chosen = select(vpc, selection).subnet_ids
    return bool(chosen) and all(subnet_id in public for subnet_id in chosen)
