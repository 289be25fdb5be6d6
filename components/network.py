"""Network: use the VPC and subnets the stack config names, or create a small VPC with public subnets in two
availability zones (no NAT gateway to pay for: instances reach AWS APIs over HTTPS from public subnets, and
their security group admits only the load balancer)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.args import require


@dataclass
class NetworkArgs:
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    cidr_block: str = "10.40.0.0/16"
    zone_count: int = 2
    subnet_cidrs: tuple[str, ...] = field(default=("10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"))

    def __post_init__(self):
        require(bool(self.vpc_id) == bool(self.subnet_ids), self, "subnet_ids", "set together with vpc_id")
        require(not self.subnet_ids or len(set(self.subnet_ids)) >= 2, self, "subnet_ids",
                "at least two distinct subnets (two Availability Zones)")
        require(2 <= self.zone_count <= len(self.subnet_cidrs), self, "zone_count",
                f"2-{len(self.subnet_cidrs)} (one subnet CIDR per zone)")


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:network:Network", name, None, opts)
        if args.vpc_id:
            self.vpc_id = pulumi.Output.from_input(args.vpc_id)
            self.subnet_ids = pulumi.Output.from_input(list(args.subnet_ids))
        else:
            self._create(name, args)
        self.register_outputs({"vpcId": self.vpc_id, "subnetIds": self.subnet_ids})

    def _create(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr_block, enable_dns_hostnames=True,
                          enable_dns_support=True, opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id,
                                    routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}], opts=child)
        # The VPC's default security group allows all traffic between its members; strip it of every rule.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg-locked", vpc_id=vpc.id, opts=child)
        subnets = []
        for index in range(args.zone_count):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{index}", vpc_id=vpc.id, cidr_block=args.subnet_cidrs[index],
                availability_zone=zones.names[index], map_public_ip_on_launch=True, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{index}", subnet_id=subnet.id, route_table_id=routes.id,
                                          opts=child)
            subnets.append(subnet)
        self.vpc_id = vpc.id
        self.subnet_ids = pulumi.Output.all(*[s.id for s in subnets])
