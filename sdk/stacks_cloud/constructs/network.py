"""`Vpc`: the private network the data tier lives in, and how the app's functions reach AWS from it.

One private subnet per availability zone, sharing a private route table. Functions placed in the VPC
(`app_placement`) reach S3 and DynamoDB through gateway endpoints and SQS and Secrets Manager through
interface endpoints (private DNS), without an internet route; or, with `nat_gateway=True`, through a
NAT gateway in a public subnet. The default security group admits nothing; VPC flow logs go to a
log group. Resources the app must reach (`DatabaseInstance`, `RedisCluster`) create their own security
group admitting `app_security_group` on their port only.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct, Fn
from stacks_cloud.cdk.aws import (
    data_aws_availability_zones,
    default_security_group,
    eip,
    flow_log,
    iam_role,
    iam_role_policy,
    internet_gateway,
    nat_gateway,
    route,
    route_table,
    route_table_association,
    security_group,
    subnet,
    vpc,
    vpc_endpoint,
    vpc_security_group_egress_rule,
    vpc_security_group_ingress_rule,
)
from stacks_cloud.constructs._iam import assume_role_policy
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import region_of, remember
from stacks_cloud.constructs.function import VpcPlacement
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.logs import DEFAULT_RETENTION_DAYS, LogGroup, RetentionDays

GatewayService = Annotated[str, Field(pattern=r"^(s3|dynamodb)$")]
InterfaceService = Annotated[str, Field(pattern=r"^[a-z0-9.-]+$")]


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError as error:
        raise ValueError(f"is not an IPv4 CIDR block ({error}). Fix: use e.g. '10.0.0.0/16'.") from None
    if not 16 <= network.prefixlen <= 24:
        raise ValueError("must have a prefix between /16 and /24 (AWS's VPC limits). Fix: use e.g. '10.0.0.0/16'.")
    return value


class VpcOptions(Options):
    cidr: Annotated[str, AfterValidator(_check_cidr)]
    """Default: 10.0.0.0/16."""
    az_count: Annotated[int, Field(ge=2, le=6)]
    """Private subnets, one per availability zone. Default: 2 (RDS subnet groups need two AZs)."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    """Name tag prefix. Default: 'app'."""
    gateway_endpoints: tuple[GatewayService, ...]
    """Services reached through gateway endpoints (free). Default: S3 and DynamoDB."""
    interface_endpoints: tuple[InterfaceService, ...]
    """Services reached through interface endpoints (charged per hour and AZ). Default: SQS, Secrets Manager."""
    nat_gateway: bool
    """A NAT gateway (in a public subnet) for everything else the functions call. Default: none."""
    flow_log_retention_days: RetentionDays = DEFAULT_RETENTION_DAYS
    """Retention of the VPC's flow logs. Default: 365 days."""
    encryption_key: EncryptionKey | None
    """Encrypts the flow log group. Default: CloudWatch Logs' own encryption."""


@options_signature(VpcOptions)
class Vpc(Construct):
    """Attributes: `vpc`, `private_subnet_ids`, `app_security_group`, `app_placement` (for a `Function`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str = "10.0.0.0/16",
        az_count: int = 2,
        name: str = "app",
        gateway_endpoints: tuple[str, ...] = ("s3", "dynamodb"),
        interface_endpoints: tuple[str, ...] = ("sqs", "secretsmanager"),
        nat_gateway: bool = False,
        encryption_key: EncryptionKey | None = None,
    ) -> None:
        props = validate_options(
            VpcOptions,
            scope,
            construct_id,
            {
                "cidr": cidr,
                "az_count": az_count,
                "name": name,
                "gateway_endpoints": gateway_endpoints,
                "interface_endpoints": interface_endpoints,
                "nat_gateway": nat_gateway,
                "encryption_key": encryption_key,
            },
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.props = props
        self.vpc = vpc.Vpc(
            self,
            "Vpc",
            cidr_block=props.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": props.name},
        )
        region = region_of(self)
        # An allowlist of zone names (a to f): zones AWS adds later cannot slip into the set.
        zones = data_aws_availability_zones.DataAwsAvailabilityZones(self, "Zones", state="available")
        zones.add_override("filter", [{"name": "zone-name", "values": [f"{region}{letter}" for letter in "abcdef"]}])
        network = ipaddress.IPv4Network(props.cidr)
        blocks = list(network.subnets(new_prefix=network.prefixlen + 4))
        self.private_subnets = [
            subnet.Subnet(
                self,
                f"Private{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(blocks[index]),
                availability_zone=Fn.element(zones.names, index),
                tags={"Name": f"{props.name}-private-{index}"},
            )
            for index in range(props.az_count)
        ]
        self.private_routes = route_table.RouteTable(
            self, "PrivateRoutes", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-private"}
        )
        for index, private in enumerate(self.private_subnets):
            route_table_association.RouteTableAssociation(
                self, f"PrivateRoutes{index}", subnet_id=private.id, route_table_id=self.private_routes.id
            )
        # The default security group admits and emits nothing: every resource names its own group.
        default_security_group.DefaultSecurityGroup(self, "DefaultSecurityGroup", vpc_id=self.vpc.id)
        self._flow_logs(props)
        self.app_security_group = security_group.SecurityGroup(
            self,
            "AppSecurityGroup",
            name=f"{props.name}-app",
            description="The app's functions",
            vpc_id=self.vpc.id,
        )
        self._egress("AppEgress", "Reach the data tier and the interface endpoints inside the VPC", cidr=props.cidr)
        for service in props.gateway_endpoints:
            endpoint = vpc_endpoint.VpcEndpoint(
                self,
                f"Endpoint-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[self.private_routes.id],
                tags={"Name": f"{props.name}-{service}"},
            )
            self._egress(
                f"AppEgress-{service}", f"Reach {service} through its gateway endpoint", prefix=endpoint.prefix_list_id
            )
        if props.interface_endpoints:
            endpoints_group = self.admit_app(
                self,
                "EndpointsSecurityGroup",
                port=443,
                name=f"{props.name}-endpoints",
                description="Interface endpoints",
            )
            for service in props.interface_endpoints:
                vpc_endpoint.VpcEndpoint(
                    self,
                    f"Endpoint-{service}",
                    vpc_id=self.vpc.id,
                    service_name=f"com.amazonaws.{region}.{service}",
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=self.private_subnet_ids,
                    security_group_ids=[endpoints_group],
                    tags={"Name": f"{props.name}-{service}"},
                )
        if props.nat_gateway:
            self._nat(props, blocks[props.az_count])

    def _egress(
        self, construct_id: str, description: str, *, cidr: str | None = None, prefix: str | None = None
    ) -> None:
        vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
            self,
            construct_id,
            security_group_id=self.app_security_group.id,
            ip_protocol="-1" if cidr and cidr != "0.0.0.0/0" else "tcp",
            from_port=None if cidr and cidr != "0.0.0.0/0" else 443,
            to_port=None if cidr and cidr != "0.0.0.0/0" else 443,
            cidr_ipv4=cidr,
            prefix_list_id=prefix,
            description=description,
        )

    def _flow_logs(self, props: VpcOptions) -> None:
        logs = LogGroup(
            self,
            "FlowLogs",
            name=f"/vpc/{props.name}/flow-logs",
            retention_days=props.flow_log_retention_days,
            key_arn=props.encryption_key.arn if props.encryption_key else None,
        )
        role = iam_role.IamRole(
            self,
            "FlowLogsRole",
            name_prefix="vpc-flow-logs-",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
        )
        iam_role_policy.IamRolePolicy(
            self,
            "FlowLogsWrite",
            name="write-flow-logs",
            role=role.id,
            policy=Fn.jsonencode(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                                "logs:DescribeLogGroups",
                                "logs:DescribeLogStreams",
                            ],
                            "Resource": [logs.arn, f"{logs.arn}:*"],
                        }
                    ],
                }
            ),
        )
        flow_log.FlowLog(
            self,
            "FlowLog",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination=logs.arn,
            iam_role_arn=role.arn,
        )

    def _nat(self, props: VpcOptions, block: ipaddress.IPv4Network) -> None:
        gateway = internet_gateway.InternetGateway(self, "InternetGateway", vpc_id=self.vpc.id)
        public = subnet.Subnet(
            self,
            "Public0",
            vpc_id=self.vpc.id,
            cidr_block=str(block),
            availability_zone=self.private_subnets[0].availability_zone,
            tags={"Name": f"{props.name}-public-0"},
        )
        public_routes = route_table.RouteTable(self, "PublicRoutes", vpc_id=self.vpc.id)
        route.Route(
            self,
            "PublicDefault",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
        )
        route_table_association.RouteTableAssociation(
            self, "PublicRoutes0", subnet_id=public.id, route_table_id=public_routes.id
        )
        address = eip.Eip(self, "NatAddress", domain="vpc")
        nat = nat_gateway.NatGateway(self, "Nat", allocation_id=address.id, subnet_id=public.id, depends_on=[gateway])
        route.Route(
            self,
            "PrivateDefault",
            route_table_id=self.private_routes.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
        )
        self._egress("AppEgressHttps", "Reach HTTPS services through the NAT gateway", cidr="0.0.0.0/0")

    @property
    def private_subnet_ids(self) -> list[str]:
        return [item.id for item in self.private_subnets]

    @property
    def app_placement(self) -> VpcPlacement:
        """Where to put a `Function` so it can reach the data tier."""
        return VpcPlacement(subnet_ids=self.private_subnet_ids, security_group_ids=[self.app_security_group.id])

    def admit_app(self, scope: Construct, construct_id: str, *, port: int, name: str, description: str) -> str:
        """A security group `name` in this VPC admitting the app's security group on `port`; returns its id."""
        group = security_group.SecurityGroup(
            scope,
            construct_id,
            name=name,
            description=description,
            vpc_id=self.vpc.id,
        )
        vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule(
            scope,
            f"{construct_id}FromApp",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=self.app_security_group.id,
            description="From the app's functions",
        )
        return str(group.id)
