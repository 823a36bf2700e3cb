package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Stacks are the two stacks of one environment.
type Stacks struct {
	Config Config
	Main   *MainStack
	Edge   *EdgeStack
}

// MainStack holds everything regional: network, data, functions, API and
// operations.
type MainStack struct {
	awscdk.Stack
	Network *Network
	Data    *Data
	Compute *Compute
	API     *API
	Ops     *Ops
}

// NewApp adds the environment's stacks to app, with cdk-nag's AWS
// Solutions checks applied to both.
func NewApp(app awscdk.App) (*Stacks, error) {
	setFeatureFlags(app)
	cfg, err := LoadConfig(app)
	if err != nil {
		return nil, err
	}
	if err := CheckAssets(cfg); err != nil {
		return nil, err
	}
	main := NewMainStack(app, cfg.Prefix(), stackProps(cfg, cfg.Region), cfg)
	edge := NewEdgeStack(app, cfg.Prefix()+"-edge", stackProps(cfg, edgeRegion), cfg,
		main.API.Endpoint())
	ApplyChecks(app)
	return &Stacks{Config: cfg, Main: main, Edge: edge}, nil
}

// setFeatureFlags fixes CDK behaviours that would otherwise change with
// the library version. Strong cross-stack references (CloudFormation
// exports) stop the main stack from deleting the API the edge still
// points at. Flags must be set before the first construct is added.
func setFeatureFlags(app awscdk.App) {
	flags := map[string]string{
		"@aws-cdk/core:defaultCrossStackReferences": "strong",
	}
	for key, value := range flags {
		if app.Node().TryGetContext(jsii.String(key)) == nil {
			app.Node().SetContext(jsii.String(key), value)
		}
	}
}

// stackProps pins the region because the edge must reference the API
// across regions, which CDK allows only between stacks with a region.
func stackProps(cfg Config, region string) *awscdk.StackProps {
	env := &awscdk.Environment{Region: jsii.String(region)}
	if cfg.Account != "" {
		env.Account = jsii.String(cfg.Account)
	}
	return &awscdk.StackProps{
		Env:                   env,
		CrossRegionReferences: jsii.Bool(cfg.Region != edgeRegion),
		Description:           jsii.String("flash-sale backend (" + cfg.Env + ")"),
		Tags: &map[string]*string{
			"project": jsii.String("flashsale"),
			"env":     jsii.String(cfg.Env),
		},
	}
}

// NewMainStack builds the regional stack, each concern from the one it
// depends on.
func NewMainStack(
	scope constructs.Construct,
	id string,
	props *awscdk.StackProps,
	cfg Config,
) *MainStack {
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	s := &MainStack{Stack: stack}
	s.Network = NewNetwork(stack, cfg)
	s.Data = NewData(stack, cfg, s.Network)
	s.Compute = NewCompute(stack, cfg, s.Network, s.Data)
	s.API = NewAPI(stack, cfg, s.Compute)
	s.Ops = NewOps(stack, cfg, s.Data, s.Compute, s.API)
	s.outputs()
	return s
}

// outputs are what a client, the admin CLI or an operator needs next.
func (s *MainStack) outputs() {
	for _, out := range []struct {
		name  string
		value *string
	}{
		{"ApiEndpoint", s.API.Endpoint()},
		{"UserPoolId", s.API.Users.UserPoolId()},
		{"WebClientId", s.API.Clients["web"].UserPoolClientId()},
		{"AdminCliClientId", s.API.Clients["admin-cli"].UserPoolClientId()},
		{"EventsStreamName", s.Data.Stream.StreamName()},
		{"EventsTableName", s.Data.Table.TableName()},
		{"AlarmTopicArn", s.Ops.Topic.TopicArn()},
	} {
		awscdk.NewCfnOutput(s.Stack, jsii.String(out.name),
			&awscdk.CfnOutputProps{Value: out.value})
	}
}
