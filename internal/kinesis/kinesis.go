// Package kinesis is the Kinesis Data Streams adapter: the publisher the
// event relay puts records with, and the poller that feeds the consumer
// handlers on a machine where no Lambda trigger exists (kinesalite).
package kinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/flashsale/flashsale/internal/events"
)

// API is the part of the Kinesis client this package uses. Tests wrap the
// real client to refuse chosen records; production passes *kinesis.Client.
type API interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput,
		opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput,
		opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput,
		opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput,
		opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var _ API = (*kinesis.Client)(nil)

// NewClient builds a client from the SDK's default chain (credentials,
// region, AWS_ENDPOINT_URL). endpoint, when set, overrides the endpoint:
// emulators, LocalStack or a test's own kinesalite.
func NewClient(ctx context.Context, endpoint string) (*kinesis.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// putTimeout bounds one PutRecords, so a stream that hangs delays events
// instead of stopping the relay.
const putTimeout = 10 * time.Second

// Publisher puts event records on one stream.
type Publisher struct {
	api    API
	stream string
}

var _ events.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher to a stream, named (kinesalite knows no
// ARNs).
func NewPublisher(api API, stream string) *Publisher {
	return &Publisher{api: api, stream: stream}
}

// RecordError is a record that PutRecords refused, e.g. for
// ProvisionedThroughputExceededException; resending it may succeed.
type RecordError struct {
	Code, Message string
}

func (e *RecordError) Error() string { return "kinesis: " + e.Code + ": " + e.Message }

// Put sends up to 500 records in one PutRecords and reports each record's
// fate; a failed request reports nothing per record.
func (p *Publisher) Put(ctx context.Context, records []events.Record) ([]error, error) {
	entries := make([]types.PutRecordsRequestEntry, len(records))
	for i, r := range records {
		entries[i] = types.PutRecordsRequestEntry{Data: r.Data,
			PartitionKey: aws.String(r.PartitionKey)}
	}
	ctx, cancel := context.WithTimeout(ctx, putTimeout)
	defer cancel()
	out, err := p.api.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String(p.stream), Records: entries})
	if err != nil {
		return nil, fmt.Errorf("put records: %w", err)
	}
	if len(out.Records) != len(records) {
		return nil, errors.New("put records: answer does not match the request")
	}
	res := make([]error, len(records))
	for i, r := range out.Records {
		if r.ErrorCode != nil {
			res[i] = &RecordError{Code: aws.ToString(r.ErrorCode),
				Message: aws.ToString(r.ErrorMessage)}
		}
	}
	return res, nil
}
