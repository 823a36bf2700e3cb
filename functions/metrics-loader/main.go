// Command metrics-loader is the Lambda function on the events stream that
// folds events into the analytics store (Redshift; PostgreSQL locally).
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

// An instance loads one batch at a time.
const analyticsConns = 2

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := app.NewLogger(cfg.LogLevel)
	// Clients are built once per cold start and reused by every invoke.
	db, err := pipeline.Analytics(context.Background(), cfg, analyticsConns)
	if err != nil {
		log.Error("cold start failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(pipeline.Metrics(db, log))
}
