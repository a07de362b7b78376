"""`Vpc`: the private network the database and cache live in, and the app's security group."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct, Fn
from stacks_cloud.cdk.aws import (
    data_aws_availability_zones,
    security_group,
    subnet,
    vpc,
    vpc_security_group_egress_rule,
    vpc_security_group_ingress_rule,
)
from stacks_cloud.constructs._options import Options, validate_options
from stacks_cloud.constructs.function import VpcPlacement


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError as error:
        raise ValueError(f"is not an IPv4 CIDR block ({error}). Fix: use e.g. '10.0.0.0/16'.") from None
    if not 16 <= network.prefixlen <= 24:
        raise ValueError("must have a prefix between /16 and /24 (AWS's VPC limits). Fix: use e.g. '10.0.0.0/16'.")
    return value


class VpcOptions(Options):
    cidr: Annotated[str, AfterValidator(_check_cidr)] = "10.0.0.0/16"
    """Default: 10.0.0.0/16."""
    az_count: Annotated[int, Field(ge=2, le=6)] = 2
    """Private subnets, one per availability zone. Default: 2 (RDS subnet groups need two AZs)."""
    name: Annotated[str, Field(min_length=1, max_length=200)] = "app"
    """Name tag prefix. Default: 'app'."""


class Vpc(Construct):
    """A VPC with one private subnet per availability zone and the app's security group.

    Resources that the app must reach (`RdsDatabase`, `RedisCluster`) create their own security
    group admitting `app_security_group` on their port only. The subnets have no route to the
    internet: the data tier does not need one.

    Attributes: `vpc`, `private_subnet_ids`, `app_security_group`, `app_placement` (for a `Function`).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, cidr: str = "10.0.0.0/16", az_count: int = 2, name: str = "app"
    ) -> None:
        props = validate_options(VpcOptions, scope, construct_id, {"cidr": cidr, "az_count": az_count, "name": name})
        super().__init__(scope, construct_id)
        self.vpc = vpc.Vpc(
            self,
            "Vpc",
            cidr_block=props.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": props.name},
        )
        zones = data_aws_availability_zones.DataAwsAvailabilityZones(self, "Zones", state="available")
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
        self.app_security_group = security_group.SecurityGroup(
            self,
            "AppSecurityGroup",
            name=f"{props.name}-app",
            description="The app's functions",
            vpc_id=self.vpc.id,
        )
        vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
            self,
            "AppEgress",
            security_group_id=self.app_security_group.id,
            ip_protocol="-1",
            cidr_ipv4=props.cidr,
            description="Reach the data tier inside the VPC",
        )

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
