package events

import (
	"context"
	"errors"
	"log/slog"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
)

// Consumer handles the events of one batch. Consumers are idempotent by
// event id: an event they handled before is a success, not an error.
type Consumer interface {
	// Consume returns one error per event, nil where the event is handled
	// (now or before); a failed event's record is delivered again.
	Consume(ctx context.Context, events []*flashsalev1.Event) []error
}

// KinesisHandler is the signature of a Kinesis-triggered Lambda function
// that reports partial batch failures.
type KinesisHandler func(
	ctx context.Context,
	batch lambdaevents.KinesisEvent,
) (lambdaevents.KinesisEventResponse, error)

// Handler adapts a consumer to a Kinesis batch. It never fails the whole
// batch: each record that cannot be decoded or handled is reported by its
// sequence number, so only those are delivered again. The event source
// mapping needs ReportBatchItemFailures, and a retry limit with an
// on-failure destination so that a record that can never be decoded does
// not hold its shard forever.
func Handler(name string, c Consumer, log *slog.Logger) KinesisHandler {
	return func(
		ctx context.Context,
		batch lambdaevents.KinesisEvent,
	) (lambdaevents.KinesisEventResponse, error) {
		var resp lambdaevents.KinesisEventResponse
		var decoded []*flashsalev1.Event
		var seqs []string
		for _, r := range batch.Records {
			e, err := Unmarshal(r.Kinesis.Data)
			if err != nil {
				log.ErrorContext(ctx, "record is not an event", "consumer", name,
					"sequence_number", r.Kinesis.SequenceNumber, "err", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures,
					lambdaevents.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
				continue
			}
			decoded = append(decoded, e)
			seqs = append(seqs, r.Kinesis.SequenceNumber)
		}
		if len(decoded) == 0 {
			return resp, nil
		}
		results := c.Consume(ctx, decoded)
		if len(results) != len(decoded) {
			results = Fail(len(decoded), errors.New("consumer answered for the wrong count"))
		}
		var failed []error
		for i, err := range results {
			if err == nil {
				continue
			}
			failed = append(failed, err)
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				lambdaevents.KinesisBatchItemFailure{ItemIdentifier: seqs[i]})
		}
		if len(failed) > 0 {
			log.WarnContext(ctx, "events failed, to be redelivered", "consumer", name,
				"failed", len(failed), "records", len(batch.Records),
				"err", failed[0].Error())
		}
		log.DebugContext(ctx, "batch consumed", "consumer", name,
			"records", len(batch.Records), "failed", len(resp.BatchItemFailures))
		return resp, nil
	}
}

// Fail returns err once per event: a consumer whose store failed as a whole
// reports every event of the batch.
func Fail(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}
