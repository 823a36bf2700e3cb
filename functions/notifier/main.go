// Command notifier is the Lambda function on the events stream that sends
// order confirmations, payment failures, refund notices and sale alerts:
// to SNS when NOTIFY_TOPIC_ARN is set, else to the analytics database.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/events"
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
	h, err := build(context.Background(), cfg, log)
	if err != nil {
		log.Error("cold start failed", "err", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

// build wires the notifier; the local sink's table needs the database.
func build(
	ctx context.Context,
	cfg config.Config,
	log *slog.Logger,
) (events.KinesisHandler, error) {
	var db *pgxpool.Pool
	if cfg.NotifyTopicARN == "" {
		var err error
		if db, err = pipeline.Analytics(ctx, cfg, 2); err != nil {
			return nil, err
		}
	}
	return pipeline.Notifier(ctx, cfg, db, log)
}
