// Package pipeline wires the event pipeline from the configuration: the
// relay, the three stream consumers (event log, metrics loader, notifier),
// the post-sale reports, and for the local server the poller that feeds the
// consumers from the stream. The Lambda functions and the local server build
// through it, so both run the same code.
package pipeline

import (
	"context"
	"log/slog"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/analytics"
	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/dynamo"
	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/kinesis"
	"github.com/flashsale/flashsale/internal/notify"
	"github.com/flashsale/flashsale/internal/postgres"
	"github.com/flashsale/flashsale/internal/redis"
)

// Consumer names, as the handlers' logs and the poller call them.
const (
	EventLogName = "event-log"
	MetricsName  = "metrics-loader"
	NotifierName = "notifier"
)

// Relay builds the relay of an app: its outbox, its product streams, the
// sales in its Redis cache, and a publisher to the configured stream.
func Relay(ctx context.Context, a *app.App) (*events.Relay, error) {
	client, err := kinesis.NewClient(ctx, a.Config.AWSEndpointURL)
	if err != nil {
		return nil, err
	}
	cfg := events.DefaultRelayConfig()
	cfg.Interval = a.Config.RelayInterval
	return NewRelay(a, kinesis.NewPublisher(client, a.Config.EventsStream), cfg), nil
}

// NewRelay builds a relay of an app with any publisher and settings; tests
// use it to restrict the relay to their sales and to inject failures.
func NewRelay(a *app.App, pub events.Publisher, cfg events.RelayConfig) *events.Relay {
	return events.NewRelay(postgres.NewOutbox(a.DB), redis.NewEventStreams(a.Redis), pub,
		a.Sales.Cached, cfg, a.Log)
}

// RelayHandler is a scheduled Lambda invocation of the relay: passes until
// the deadline less margin, then the counts. An invocation fails only when
// its last pass failed, so a stream that is down shows as failed runs.
func RelayHandler(
	r *events.Relay,
	margin time.Duration,
) func(context.Context, lambdaevents.EventBridgeEvent) (events.Stats, error) {
	return func(ctx context.Context, _ lambdaevents.EventBridgeEvent) (events.Stats, error) {
		stop := time.Now().Add(time.Minute)
		if d, ok := ctx.Deadline(); ok {
			stop = d.Add(-margin)
		}
		ctx, cancel := context.WithDeadline(ctx, stop)
		defer cancel()
		var total events.Stats
		for {
			st, err := r.Pass(ctx)
			total.Published += st.Published
			total.Resent += st.Resent
			total.Skipped += st.Skipped
			if ctx.Err() != nil {
				return total, nil
			}
			if err != nil && time.Until(stop) < time.Second {
				return total, err
			}
			if st.Published == 0 || err != nil {
				pause(ctx, 200*time.Millisecond)
			}
		}
	}
}

// EventLog builds the event-log consumer on the configured table.
func EventLog(
	ctx context.Context,
	cfg config.Config,
	log *slog.Logger,
) (events.KinesisHandler, error) {
	client, err := dynamo.NewClient(ctx, cfg.AWSEndpointURL)
	if err != nil {
		return nil, err
	}
	return events.Handler(EventLogName, dynamo.NewEventLog(client, cfg.EventsTable), log), nil
}

// Analytics opens the analytics database and creates its tables.
func Analytics(ctx context.Context, cfg config.Config, conns int32) (*pgxpool.Pool, error) {
	db, err := analytics.Open(ctx, cfg.AnalyticsDatabaseURL, conns)
	if err != nil {
		return nil, err
	}
	if err := analytics.EnsureSchema(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Metrics builds the metrics-loader consumer.
func Metrics(db *pgxpool.Pool, log *slog.Logger) events.KinesisHandler {
	return events.Handler(MetricsName, analytics.NewLoader(db), log)
}

// Notifier builds the notifier consumer: to the SNS topic when one is
// configured, else to the notifications table of the analytics database.
func Notifier(
	ctx context.Context,
	cfg config.Config,
	db *pgxpool.Pool,
	log *slog.Logger,
) (events.KinesisHandler, error) {
	var sender notify.Sender
	if cfg.NotifyTopicARN != "" {
		client, err := notify.NewSNSClient(ctx)
		if err != nil {
			return nil, err
		}
		sender = notify.NewSNSSender(client, cfg.NotifyTopicARN)
	} else {
		table, err := notify.NewTableSender(ctx, db)
		if err != nil {
			return nil, err
		}
		sender = table
	}
	return events.Handler(NotifierName, notify.NewNotifier(sender), log), nil
}

// Reports builds the post-sale reports of an app on an analytics database.
func Reports(a *app.App, db *pgxpool.Pool) *analytics.Reports {
	return analytics.NewReports(db, postgres.NewSaleStore(a.DB), postgres.NewOrderStore(a.DB))
}

// RunLocal runs the whole pipeline in the local server until ctx ends: the
// relay, and a poller that feeds the three consumers from the stream, as
// Lambda's Kinesis trigger does in AWS.
func RunLocal(ctx context.Context, a *app.App, db *pgxpool.Pool) error {
	relay, err := Relay(ctx, a)
	if err != nil {
		return err
	}
	handlers, err := Handlers(ctx, a.Config, db, a.Log)
	if err != nil {
		return err
	}
	client, err := kinesis.NewClient(ctx, a.Config.AWSEndpointURL)
	if err != nil {
		return err
	}
	poller := kinesis.NewPoller(client, a.Config.EventsStream, handlers,
		kinesis.DefaultPollerConfig(), a.Log)
	go func() { _ = relay.Run(ctx) }()
	return poller.Run(ctx)
}

// Handlers builds the three consumers by name.
func Handlers(
	ctx context.Context,
	cfg config.Config,
	db *pgxpool.Pool,
	log *slog.Logger,
) (map[string]events.KinesisHandler, error) {
	eventLog, err := EventLog(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	notifier, err := Notifier(ctx, cfg, db, log)
	if err != nil {
		return nil, err
	}
	return map[string]events.KinesisHandler{EventLogName: eventLog,
		MetricsName: Metrics(db, log), NotifierName: notifier}, nil
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
