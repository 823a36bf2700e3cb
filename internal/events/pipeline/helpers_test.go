package pipeline_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sdkkinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/dynamo"
	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/kinesis"
	"github.com/flashsale/flashsale/internal/notify"
	"github.com/flashsale/flashsale/internal/testenv"
)

// env is the real pipeline on the local stack, with a Kinesis stream of the
// test's own so that records of parallel tests never mix.
type env struct {
	cfg      config.Config
	a        *app.App
	kin      *sdkkinesis.Client
	stream   string
	eventLog *dynamo.EventLog
	adb      *pgxpool.Pool
	sent     *notify.TableSender
	handlers map[string]events.KinesisHandler
}

func newEnv(t *testing.T, ttl time.Duration) *env {
	t.Helper()
	ctx := context.Background()
	cfg := isolate(t, testenv.Config(t))
	if ttl > 0 {
		cfg.ReservationTTL = ttl
	}
	e := &env{cfg: cfg, a: testenv.App(t, cfg)}
	var err error
	e.kin, err = kinesis.NewClient(ctx, cfg.AWSEndpointURL)
	if err != nil {
		t.Fatalf("kinesis client: %v", err)
	}
	e.stream = createStream(t, e.kin)
	dyn, err := dynamo.NewClient(ctx, cfg.AWSEndpointURL)
	if err != nil {
		t.Fatalf("dynamodb client: %v", err)
	}
	e.eventLog = dynamo.NewEventLog(dyn, cfg.EventsTable)
	e.adb, err = pipeline.Analytics(ctx, cfg, 4)
	if err != nil {
		t.Fatalf("analytics database (is the local stack up?): %v", err)
	}
	t.Cleanup(e.adb.Close)
	e.sent, err = notify.NewTableSender(ctx, e.adb)
	if err != nil {
		t.Fatalf("notifications table: %v", err)
	}
	e.handlers, err = pipeline.Handlers(ctx, cfg, e.adb, testenv.Logger(t))
	if err != nil {
		t.Fatalf("handlers: %v", err)
	}
	return e
}

var (
	isolated    sync.Once
	isolatedErr error
)

// isolate moves the test's sources (PostgreSQL's outbox, Redis's sale cache
// and streams) to a database and a Redis db of this package's own. A local
// server or a load test running on the same stack runs a relay over every
// sale it can see and would publish, and delete, these tests' events; the
// sinks (DynamoDB, the analytics database) stay shared, each test filtering
// by its own sale id.
func isolate(t *testing.T, cfg config.Config) config.Config {
	t.Helper()
	const name = "flashsale_events_test"
	isolated.Do(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
		if err != nil {
			isolatedErr = err
			return
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
			err = nil // created before, or by a concurrent run
		}
		isolatedErr = err
	})
	if isolatedErr != nil {
		t.Fatalf("create database %s (is the local stack up?): %v", name, isolatedErr)
	}
	cfg.DatabaseURL = withPath(t, cfg.DatabaseURL, "/"+name)
	cfg.RedisURL = withPath(t, cfg.RedisURL, "/1")
	return cfg
}

func withPath(t *testing.T, raw, path string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	u.Path = path
	return u.String()
}

// createStream makes a one-shard stream for this test and deletes it after.
func createStream(t *testing.T, kin *sdkkinesis.Client) string {
	t.Helper()
	ctx := context.Background()
	name := testenv.ID("events")
	_, err := kin.CreateStream(ctx, &sdkkinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(1)})
	if err != nil {
		t.Fatalf("create stream %s (is the local stack up?): %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = kin.DeleteStream(context.Background(),
			&sdkkinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	waitFor(t, 10*time.Second, "stream active", func() bool {
		out, err := kin.DescribeStreamSummary(ctx, &sdkkinesis.DescribeStreamSummaryInput{
			StreamName: aws.String(name)})
		return err == nil &&
			out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive
	})
	return name
}

// relay returns a relay of only this sale's events onto pub.
func (e *env) relay(saleID string, pub events.Publisher) *events.Relay {
	cfg := events.DefaultRelayConfig()
	cfg.SaleIDs = []string{saleID}
	cfg.Backoff, cfg.Interval = 10*time.Millisecond, 20*time.Millisecond
	return pipeline.NewRelay(e.a, pub, cfg)
}

func (e *env) publisher() *kinesis.Publisher {
	return kinesis.NewPublisher(e.kin, e.stream)
}

// records reads every record of a stream's only shard.
func records(t *testing.T, kin kinesis.API, stream string) []types.Record {
	t.Helper()
	ctx := context.Background()
	it, err := kin.GetShardIterator(ctx, &sdkkinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("shard iterator: %v", err)
	}
	var out []types.Record
	iter := it.ShardIterator
	for {
		page, err := kin.GetRecords(ctx, &sdkkinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatalf("get records: %v", err)
		}
		if len(page.Records) == 0 {
			return out
		}
		out = append(out, page.Records...)
		iter = page.NextShardIterator
	}
}

// batch builds the event Lambda would send for records.
func batch(recs []types.Record) lambdaevents.KinesisEvent {
	var ev lambdaevents.KinesisEvent
	for _, r := range recs {
		ev.Records = append(ev.Records, lambdaevents.KinesisEventRecord{
			EventSource: "aws:kinesis", EventName: "aws:kinesis:record",
			Kinesis: lambdaevents.KinesisRecord{Data: r.Data,
				PartitionKey:   aws.ToString(r.PartitionKey),
				SequenceNumber: aws.ToString(r.SequenceNumber)}})
	}
	return ev
}

// feed gives a batch to every consumer and fails on any reported failure.
func (e *env) feed(t *testing.T, ev lambdaevents.KinesisEvent) {
	t.Helper()
	for name, h := range e.handlers {
		resp, err := h(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("%s: got failures %v, err %v; want none", name,
				resp.BatchItemFailures, err)
		}
	}
}

// eventIDs returns the ids of logged events and fails on a repeated id.
func eventIDs(t *testing.T, logged []dynamo.LoggedEvent) map[string]dynamo.LoggedEvent {
	t.Helper()
	ids := map[string]dynamo.LoggedEvent{}
	for _, l := range logged {
		if _, dup := ids[l.EventID]; dup {
			t.Errorf("event %s logged twice", l.EventID)
		}
		ids[l.EventID] = l
	}
	return ids
}

func countTypes(logged []dynamo.LoggedEvent) map[string]int {
	n := map[string]int{}
	for _, l := range logged {
		n[l.Type]++
	}
	return n
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// background runs f until the test ends (or stop is called) and waits for it.
func background(t *testing.T, f func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f(ctx) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func mustEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}
