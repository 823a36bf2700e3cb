package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/flashsale/flashsale/internal/events"
)

// PollerConfig tunes the poller.
type PollerConfig struct {
	// Interval is the pause after an empty read (Kinesis allows five reads
	// per shard per second, shared by every consumer).
	Interval time.Duration
	// Batch is the most records per handler call, like an event source
	// mapping's BatchSize.
	Batch int32
	// Attempts bounds the deliveries of a failing record; after that it is
	// logged and skipped, like MaximumRetryAttempts with an on-failure
	// destination.
	Attempts int
	// FromLatest starts at the stream's tip instead of its oldest record.
	FromLatest bool
}

// DefaultPollerConfig suits the local server.
func DefaultPollerConfig() PollerConfig {
	return PollerConfig{Interval: 250 * time.Millisecond, Batch: 100, Attempts: 5}
}

// Poller stands in for Lambda's Kinesis trigger where there is none: it
// reads every shard of a stream and calls each handler with the same
// events.KinesisEvent that Lambda would send, one independent reader per
// handler and shard, each with its own position, as separate event source
// mappings have. A reported failure is delivered again from that record on.
//
// NOTE: positions live in memory. A restarted poller starts again from the
// oldest record (or the tip with FromLatest); the consumers are idempotent,
// so a replay costs time, not correctness.
type Poller struct {
	api      API
	stream   string
	handlers map[string]events.KinesisHandler
	cfg      PollerConfig
	log      *slog.Logger
}

// NewPoller returns a poller of one stream for named handlers.
func NewPoller(
	api API,
	stream string,
	handlers map[string]events.KinesisHandler,
	cfg PollerConfig,
	log *slog.Logger,
) *Poller {
	def := DefaultPollerConfig()
	if cfg.Interval <= 0 {
		cfg.Interval = def.Interval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = def.Batch
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = def.Attempts
	}
	return &Poller{api: api, stream: stream, handlers: handlers, cfg: cfg, log: log}
}

// Run polls until ctx ends. It waits for the stream to answer first.
func (p *Poller) Run(ctx context.Context) error {
	shards, err := p.shards(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for name, h := range p.handlers {
		for _, shard := range shards {
			r := &reader{p: p, name: name, handler: h, shard: shard}
			wg.Go(func() { r.run(ctx) })
		}
	}
	wg.Wait()
	return nil
}

// shards lists the stream's shards, retrying until the stream answers.
func (p *Poller) shards(ctx context.Context) ([]string, error) {
	for {
		out, err := p.api.ListShards(ctx, &kinesis.ListShardsInput{
			StreamName: aws.String(p.stream)})
		if err == nil {
			ids := make([]string, len(out.Shards))
			for i, s := range out.Shards {
				ids[i] = aws.ToString(s.ShardId)
			}
			return ids, nil
		}
		p.log.WarnContext(ctx, "list shards failed", "stream", p.stream, "err", err.Error())
		if !pause(ctx, time.Second) {
			return nil, ctx.Err()
		}
	}
}

// reader follows one shard for one handler.
type reader struct {
	p       *Poller
	name    string
	handler events.KinesisHandler
	shard   string
	// done is the sequence number of the last record handled (or skipped).
	done     string
	attempts int // deliveries of the batch starting after done
	iter     *string
}

func (r *reader) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := r.step(ctx); err != nil && ctx.Err() == nil {
			r.p.log.WarnContext(ctx, "stream read failed", "consumer", r.name,
				"shard", r.shard, "err", err.Error())
			r.iter = nil // the stream may have restarted: ask again
			pause(ctx, time.Second)
		}
	}
}

// step reads one batch and hands it to the handler.
func (r *reader) step(ctx context.Context) error {
	if r.iter == nil {
		if err := r.seek(ctx); err != nil {
			return err
		}
	}
	out, err := r.p.api.GetRecords(ctx, &kinesis.GetRecordsInput{
		ShardIterator: r.iter, Limit: aws.Int32(r.p.cfg.Batch)})
	var expired *types.ExpiredIteratorException
	if errors.As(err, &expired) {
		r.iter = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("get records: %w", err)
	}
	if len(out.Records) == 0 {
		r.iter = out.NextShardIterator
		pause(ctx, r.p.cfg.Interval)
		return nil
	}
	if r.deliver(ctx, out.Records) {
		r.iter = out.NextShardIterator
	} else {
		r.iter = nil // read again from the first failed record
	}
	return nil
}

// seek gets an iterator just after the last handled record.
func (r *reader) seek(ctx context.Context) error {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(r.p.stream),
		ShardId: aws.String(r.shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	switch {
	case r.done != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(r.done)
	case r.p.cfg.FromLatest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	}
	out, err := r.p.api.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("get shard iterator: %w", err)
	}
	r.iter = out.ShardIterator
	return nil
}

// deliver calls the handler and moves the position past what succeeded.
// It reports whether the whole batch is done.
func (r *reader) deliver(ctx context.Context, recs []types.Record) bool {
	resp, err := r.handler(ctx, r.event(recs))
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for i, rec := range recs {
		seq := aws.ToString(rec.SequenceNumber)
		if err == nil && !failed[seq] {
			r.done, r.attempts = seq, 0
			continue
		}
		r.attempts++
		if r.attempts < r.p.cfg.Attempts {
			pause(ctx, time.Duration(r.attempts)*r.p.cfg.Interval)
			return false
		}
		r.p.log.ErrorContext(ctx, "record dropped after repeated failures",
			"consumer", r.name, "shard", r.shard, "sequence_number", seq,
			"attempts", r.attempts)
		r.done, r.attempts = seq, 0
		return i == len(recs)-1
	}
	return true
}

// event builds what Lambda would send for these records.
func (r *reader) event(recs []types.Record) lambdaevents.KinesisEvent {
	ev := lambdaevents.KinesisEvent{Records: make([]lambdaevents.KinesisEventRecord, len(recs))}
	for i, rec := range recs {
		seq := aws.ToString(rec.SequenceNumber)
		ev.Records[i] = lambdaevents.KinesisEventRecord{
			EventID:      r.shard + ":" + seq,
			EventName:    "aws:kinesis:record",
			EventSource:  "aws:kinesis",
			EventVersion: "1.0",
			Kinesis: lambdaevents.KinesisRecord{
				ApproximateArrivalTimestamp: lambdaevents.SecondsEpochTime{
					Time: aws.ToTime(rec.ApproximateArrivalTimestamp)},
				Data:                 rec.Data,
				PartitionKey:         aws.ToString(rec.PartitionKey),
				SequenceNumber:       seq,
				KinesisSchemaVersion: "1.0",
			},
		}
	}
	return ev
}

// pause waits for d; false when ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
