package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Network is the VPC and the security groups of the code that runs in it.
//
// Subnets come in three tiers: public (NAT gateways only), app (private with
// egress, for the one function that calls an outside payment provider) and
// data (isolated: no route out at all). Everything that can live without
// the internet lives in data and reaches AWS APIs through VPC endpoints.
type Network struct {
	VPC awsec2.Vpc
	// Functions is the security group of every Lambda function; data
	// stores and endpoints admit it on their port and nothing else.
	Functions awsec2.SecurityGroup
	// Rotation is the security group of the database secret's rotation
	// function, which needs the database and Secrets Manager.
	Rotation awsec2.SecurityGroup
	// SecretsEndpoint lets code in the isolated subnets reach Secrets
	// Manager.
	SecretsEndpoint awsec2.InterfaceVpcEndpoint
}

// Subnet group names, used to select subnets by tier.
const (
	subnetPublic = "public"
	subnetApp    = "app"
	subnetData   = "data"
)

// NewNetwork builds the VPC, its flow log, security groups and endpoints.
func NewNetwork(scope constructs.Construct, cfg Config) *Network {
	vpc := newVPC(scope, cfg)
	n := &Network{VPC: vpc}
	// Outbound stays open on both groups: isolated subnets have no route
	// out, so the subnet tier, not the group, decides what is reachable.
	n.Functions = newEgressGroup(scope, "Functions", vpc,
		"Lambda functions of the flash-sale backend")
	n.Rotation = newEgressGroup(scope, "Rotation", vpc,
		"rotation function of the flash-sale database secret")
	n.addEndpoints()
	return n
}

func newEgressGroup(
	scope constructs.Construct,
	id string,
	vpc awsec2.Vpc,
	desc string,
) awsec2.SecurityGroup {
	return awsec2.NewSecurityGroup(scope, jsii.String(id+"SecurityGroup"),
		&awsec2.SecurityGroupProps{
			Vpc:              vpc,
			Description:      jsii.String(desc),
			AllowAllOutbound: jsii.Bool(true),
		})
}

func newVPC(scope constructs.Construct, cfg Config) awsec2.Vpc {
	props := &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.40.0.0/16")),
		NatGateways: jsii.Number(float64(cfg.Profile.NATGateways)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			subnet(subnetPublic, awsec2.SubnetType_PUBLIC, 24),
			subnet(subnetApp, awsec2.SubnetType_PRIVATE_WITH_EGRESS, 22),
			subnet(subnetData, awsec2.SubnetType_PRIVATE_ISOLATED, 22),
		},
		// Every resource here has its own security group; stripping the
		// default group would add a Node.js custom resource to the stack.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(
					newLogGroup(scope, "FlowLogs", cfg), nil),
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	}
	if len(cfg.AvailabilityZones) > 0 {
		props.AvailabilityZones = jsii.Strings(cfg.AvailabilityZones...)
	} else {
		props.MaxAzs = jsii.Number(3)
	}
	return awsec2.NewVpc(scope, jsii.String("Vpc"), props)
}

func subnet(name string, kind awsec2.SubnetType, mask float64) *awsec2.SubnetConfiguration {
	return &awsec2.SubnetConfiguration{
		Name:       jsii.String(name),
		SubnetType: kind,
		CidrMask:   jsii.Number(mask),
	}
}

// addEndpoints gives the isolated subnets the AWS APIs the functions and
// rotation call. Lambda ships logs and the Kinesis event source polls
// outside the VPC, so neither CloudWatch Logs nor Kinesis reads need one.
func (n *Network) addEndpoints() {
	n.VPC.AddGatewayEndpoint(jsii.String("DynamoDB"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB(),
		Subnets: &[]*awsec2.SubnetSelection{n.Subnets(subnetApp), n.Subnets(subnetData)},
	})
	n.SecretsEndpoint = n.interfaceEndpoint("SecretsManager",
		awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER())
	n.SecretsEndpoint.Connections().AllowDefaultPortFrom(n.Rotation,
		jsii.String("rotation to Secrets Manager"))
	n.interfaceEndpoint("Kinesis", awsec2.InterfaceVpcEndpointAwsService_KINESIS_STREAMS())
	n.interfaceEndpoint("SNS", awsec2.InterfaceVpcEndpointAwsService_SNS())
}

// interfaceEndpoint admits only the functions, not the whole VPC range.
func (n *Network) interfaceEndpoint(
	id string,
	service awsec2.InterfaceVpcEndpointAwsService,
) awsec2.InterfaceVpcEndpoint {
	endpoint := n.VPC.AddInterfaceEndpoint(jsii.String(id), &awsec2.InterfaceVpcEndpointOptions{
		Service:           service,
		Subnets:           n.Subnets(subnetData),
		PrivateDnsEnabled: jsii.Bool(true),
		Open:              jsii.Bool(false),
	})
	endpoint.Connections().AllowDefaultPortFrom(n.Functions, jsii.String("functions to "+id))
	return endpoint
}

// Subnets selects one tier of subnets by its group name.
func (n *Network) Subnets(group string) *awsec2.SubnetSelection {
	return &awsec2.SubnetSelection{SubnetGroupName: jsii.String(group)}
}

// SubnetIDs lists the IDs of one tier, for L1 resources that take IDs.
func (n *Network) SubnetIDs(group string) *[]*string {
	return n.VPC.SelectSubnets(n.Subnets(group)).SubnetIds
}
