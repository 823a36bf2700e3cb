// Command infra is the CDK app that defines the flash-sale backend on AWS:
// the main stack in the chosen region and the edge stack (CloudFront and
// its WAF) in us-east-1. It synthesizes without credentials.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	if _, err := NewApp(app); err != nil {
		return err
	}
	return checkMessages(app.Synth(nil))
}

// checkMessages fails the run on error annotations (unsuppressed cdk-nag
// findings among them), as `cdk synth` does, so that synthesizing with
// plain `go run .` is as strict as the CLI.
func checkMessages(assembly cxapi.CloudAssembly) error {
	errors := 0
	for _, stack := range *assembly.Stacks() {
		for _, msg := range *stack.Messages() {
			if msg.Level == cxapi.SynthesisMessageLevel_ERROR {
				errors++
				fmt.Fprintf(os.Stderr, "error: %s: %v\n", *msg.Id, msg.Entry.Data)
			}
		}
	}
	if errors > 0 {
		return fmt.Errorf("synth found %d errors", errors)
	}
	return nil
}
