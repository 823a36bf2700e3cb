// Package dynamo is the DynamoDB adapter: the event log, one item per event
// in the flash_sale_events table.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/events"
)

// API is the part of the DynamoDB client this package uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput,
		opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput,
		opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// NewClient builds a client from the SDK's default chain (credentials,
// region, AWS_ENDPOINT_URL); endpoint, when set, overrides the endpoint.
func NewClient(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// EventLog writes events to the table: partition key sale_id, sort key
// sk = event time (RFC 3339, nanoseconds, UTC) + "#" + event id. The sort
// key is a function of the event alone, so a redelivered event lands on the
// same item, and the conditional put makes it a no-op.
//
// NOTE: one conditional PutItem per event, a few at a time. BatchWriteItem
// would take 25 per call but cannot carry a condition, and dynalite has no
// TransactWriteItems.
type EventLog struct {
	api   API
	table string
}

var _ events.Consumer = (*EventLog)(nil)

// NewEventLog returns the event log in a table.
func NewEventLog(api API, table string) *EventLog { return &EventLog{api: api, table: table} }

// parallel bounds the puts in flight for one batch.
const parallel = 8

// Consume writes each event once; an event already in the table succeeds.
func (l *EventLog) Consume(ctx context.Context, evs []*flashsalev1.Event) []error {
	errs := make([]error, len(evs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, e := range evs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = l.put(ctx, e)
		})
	}
	wg.Wait()
	return errs
}

func (l *EventLog) put(ctx context.Context, e *flashsalev1.Event) error {
	_, err := l.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(l.table),
		Item:                Item(e),
		ConditionExpression: aws.String("attribute_not_exists(sk)"),
	})
	var dup *types.ConditionalCheckFailedException
	if errors.As(err, &dup) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("put event %s: %w", e.GetEventId(), err)
	}
	return nil
}

// SortKey is the item's sort key: events of a sale sort by time, and the
// id keeps two events of one instant apart.
func SortKey(e *flashsalev1.Event) string {
	return e.GetTime().AsTime().UTC().Format(time.RFC3339Nano) + "#" + e.GetEventId()
}

// Item is the table item of an event: the seed's attributes (sale_id,
// event_time, event_type, user_id, product_id, quantity) and the rest of
// the envelope. Empty strings are left out.
func Item(e *flashsalev1.Event) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		"sale_id":    str(e.GetSaleId()),
		"sk":         str(SortKey(e)),
		"event_id":   str(e.GetEventId()),
		"event_type": str(string(events.Name(e.GetType()))),
		"event_time": str(e.GetTime().AsTime().UTC().Format(time.RFC3339Nano)),
		"quantity":   num(int64(e.GetQuantity())),
		"amount":     num(e.GetAmount()),
	}
	for k, v := range map[string]string{
		"product_id": e.GetProductId(), "user_id": e.GetUserId(),
		"currency": e.GetCurrency(), "reason": e.GetReason(), "hold_id": e.GetHoldId(),
		"order_id": e.GetOrderId(), "payment_id": e.GetPaymentId(),
	} {
		if v != "" {
			item[k] = str(v)
		}
	}
	return item
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// LoggedEvent is one item of the event log as read back.
type LoggedEvent struct {
	SaleID, SortKey, EventID, Type, ProductID, UserID, HoldID, OrderID, Reason string
	Quantity                                                                   int
	Amount                                                                     int64
}

// SaleEvents reads every logged event of a sale in time order.
func (l *EventLog) SaleEvents(ctx context.Context, saleID string) ([]LoggedEvent, error) {
	var out []LoggedEvent
	var start map[string]types.AttributeValue
	for {
		page, err := l.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(l.table),
			KeyConditionExpression:    aws.String("sale_id = :s"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(saleID)},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("query events of %s: %w", saleID, err)
		}
		for _, it := range page.Items {
			out = append(out, logged(it))
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}

func logged(it map[string]types.AttributeValue) LoggedEvent {
	s := func(k string) string {
		v, _ := it[k].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	n := func(k string) int64 {
		v, _ := it[k].(*types.AttributeValueMemberN)
		if v == nil {
			return 0
		}
		x, _ := strconv.ParseInt(v.Value, 10, 64)
		return x
	}
	return LoggedEvent{SaleID: s("sale_id"), SortKey: s("sk"), EventID: s("event_id"),
		Type: s("event_type"), ProductID: s("product_id"), UserID: s("user_id"),
		HoldID: s("hold_id"), OrderID: s("order_id"), Reason: s("reason"),
		Quantity: int(n("quantity")), Amount: n("amount")}
}
