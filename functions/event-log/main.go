// Command event-log is the Lambda function on the events stream that writes
// every event once to the DynamoDB table flash_sale_events.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/events/pipeline"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := app.NewLogger(cfg.LogLevel)
	// Clients are built once per cold start and reused by every invoke.
	h, err := pipeline.EventLog(context.Background(), cfg, log)
	if err != nil {
		log.Error("cold start failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
