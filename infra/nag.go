package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ApplyChecks runs cdk-nag's AWS Solutions pack over every stack of app.
// Its findings become synth annotations; `cdk synth` fails on errors.
func ApplyChecks(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
	}), nil)
}

// suppress silences one cdk-nag rule on a construct and its children,
// with the reason the finding does not apply. appliesTo narrows it to
// specific findings such as "Resource::*".
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		items := make([]interface{}, 0, len(appliesTo))
		for _, a := range appliesTo {
			items = append(items, a)
		}
		s.AppliesTo = &items
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s},
		jsii.Bool(true))
}
