// Command relay is the Lambda function that an EventBridge schedule runs:
// it publishes the outbox and the per-product Redis streams to the events
// stream for as long as the invocation lasts.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/events/pipeline"
)

// margin is the time left at the end of an invocation to report and return
// before Lambda's timeout.
const margin = time.Second

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := app.NewLogger(cfg.LogLevel)
	// Clients are built once per cold start and reused by every invoke.
	ctx := context.Background()
	a, err := app.New(ctx, cfg, log, app.Options{DBConns: 2, RedisPool: 4})
	if err != nil {
		log.Error("cold start failed", "err", err.Error())
		os.Exit(1)
	}
	r, err := pipeline.Relay(ctx, a)
	if err != nil {
		log.Error("cold start failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(pipeline.RelayHandler(r, margin))
}
