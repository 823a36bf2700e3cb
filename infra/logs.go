package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newLogGroup makes a log group whose retention and removal follow the
// environment, so no log group in the stack keeps data forever by
// accident.
func newLogGroup(scope constructs.Construct, id string, cfg Config) awslogs.LogGroup {
	return newNamedLogGroup(scope, id, "", cfg)
}

// newNamedLogGroup is newLogGroup with a fixed name, for services that
// write to a log group they pick by name (Lambda, RDS, WAF).
func newNamedLogGroup(scope constructs.Construct, id, name string, cfg Config) awslogs.LogGroup {
	props := &awslogs.LogGroupProps{
		Retention:     cfg.Profile.LogRetention,
		RemovalPolicy: cfg.RemovalPolicy(),
	}
	if name != "" {
		props.LogGroupName = jsii.String(name)
	}
	return awslogs.NewLogGroup(scope, jsii.String(id+"LogGroup"), props)
}
