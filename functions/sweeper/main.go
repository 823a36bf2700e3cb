// Command sweeper is the Lambda function that an EventBridge schedule runs:
// it reclaims expired holds and resolves interrupted confirms for as long as
// the invocation lasts, so shown availability stays fresh between schedules.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
)

// margin is the end of an invocation in which no new sweep starts, so the
// last one can finish and report before Lambda's timeout.
const margin = time.Second

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := app.NewLogger(cfg.LogLevel)
	// Clients are built once per cold start and reused by every invoke.
	_, s, err := build(context.Background(), cfg, log)
	if err != nil {
		log.Error("cold start failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(s.Handle)
}

// build wires the app and the sweeper.
func build(
	ctx context.Context,
	cfg config.Config,
	log *slog.Logger,
) (*app.App, *sweeper, error) {
	a, err := app.New(ctx, cfg, log, app.Options{DBConns: 2, RedisPool: 4})
	if err != nil {
		return nil, nil, err
	}
	return a, &sweeper{sweepOnce: a.Sweep, every: cfg.SweepInterval,
		margin: margin, log: log}, nil
}
