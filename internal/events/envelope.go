package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/flashsale"
)

var types = map[flashsale.EventType]flashsalev1.EventType{
	flashsale.EventSaleCreated:    flashsalev1.EventType_EVENT_TYPE_SALE_CREATED,
	flashsale.EventSalePaused:     flashsalev1.EventType_EVENT_TYPE_SALE_PAUSED,
	flashsale.EventSaleResumed:    flashsalev1.EventType_EVENT_TYPE_SALE_RESUMED,
	flashsale.EventSaleEnded:      flashsalev1.EventType_EVENT_TYPE_SALE_ENDED,
	flashsale.EventReserved:       flashsalev1.EventType_EVENT_TYPE_RESERVED,
	flashsale.EventRejected:       flashsalev1.EventType_EVENT_TYPE_REJECTED,
	flashsale.EventReleased:       flashsalev1.EventType_EVENT_TYPE_RELEASED,
	flashsale.EventExpired:        flashsalev1.EventType_EVENT_TYPE_EXPIRED,
	flashsale.EventConfirmed:      flashsalev1.EventType_EVENT_TYPE_CONFIRMED,
	flashsale.EventPaymentDecline: flashsalev1.EventType_EVENT_TYPE_PAYMENT_DECLINED,
	flashsale.EventRefundRequired: flashsalev1.EventType_EVENT_TYPE_REFUND_REQUIRED,
}

var names = func() map[flashsalev1.EventType]flashsale.EventType {
	m := make(map[flashsalev1.EventType]flashsale.EventType, len(types))
	for k, v := range types {
		m[v] = k
	}
	return m
}()

// TypeOf returns the envelope type of a domain event type, UNSPECIFIED for
// an unknown one.
func TypeOf(t flashsale.EventType) flashsalev1.EventType { return types[t] }

// Name returns the domain name of an envelope type ("confirmed", ...), the
// spelling stored in DynamoDB and the analytics tables.
func Name(t flashsalev1.EventType) flashsale.EventType { return names[t] }

// ErrMalformed marks a record or source entry that is not a valid event.
var ErrMalformed = errors.New("malformed event")

// Marshal encodes an envelope for a stream record.
func Marshal(e *flashsalev1.Event) ([]byte, error) {
	return proto.Marshal(e)
}

// Unmarshal decodes a stream record and checks the fields every consumer
// relies on, so that a foreign or corrupt record is refused here, once.
func Unmarshal(data []byte) (*flashsalev1.Event, error) {
	e := &flashsalev1.Event{}
	if err := proto.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := check(e); err != nil {
		return nil, err
	}
	return e, nil
}

func check(e *flashsalev1.Event) error {
	switch {
	case e.GetEventId() == "":
		return fmt.Errorf("%w: no event id", ErrMalformed)
	case names[e.GetType()] == "":
		return fmt.Errorf("%w: event %s has unknown type %d", ErrMalformed,
			e.GetEventId(), e.GetType())
	case !flashsale.IDPattern.MatchString(e.GetSaleId()):
		return fmt.Errorf("%w: event %s has sale id %q", ErrMalformed,
			e.GetEventId(), e.GetSaleId())
	case e.GetTime() == nil:
		return fmt.Errorf("%w: event %s has no time", ErrMalformed, e.GetEventId())
	}
	return nil
}

// PartitionKey keeps one product's events on one shard, in order, and
// spreads a sale's products over the shards.
func PartitionKey(e *flashsalev1.Event) string {
	if e.GetProductId() == "" {
		return e.GetSaleId()
	}
	return e.GetSaleId() + ":" + e.GetProductId()
}

// OutboxRow is one unpublished row of the PostgreSQL outbox.
type OutboxRow struct {
	Seq       int64
	EventID   string
	Type      string
	SaleID    string
	Payload   []byte // JSON, see Payload
	CreatedAt time.Time
}

// Payload is the JSON document of an outbox row. The order store writes the
// confirmed event in this shape too. At may be absent: the row's creation
// time, set by the same transaction, stands in then.
type Payload struct {
	EventID   string     `json:"event_id"`
	Type      string     `json:"type"`
	SaleID    string     `json:"sale_id"`
	ProductID string     `json:"product_id,omitempty"`
	UserID    string     `json:"user_id,omitempty"`
	HoldID    string     `json:"hold_id,omitempty"`
	OrderID   string     `json:"order_id,omitempty"`
	PaymentID string     `json:"payment_id,omitempty"`
	Quantity  int        `json:"quantity,omitempty"`
	Amount    int64      `json:"amount,omitempty"`
	Currency  string     `json:"currency,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	At        *time.Time `json:"at,omitempty"`
}

// NewPayload is the outbox document of a domain event; paymentID and
// currency, which the domain event does not carry, are added when known.
func NewPayload(e flashsale.Event, paymentID, currency string) ([]byte, error) {
	at := e.At.UTC()
	return json.Marshal(Payload{
		EventID: e.ID, Type: string(e.Type), SaleID: e.SaleID, ProductID: e.ProductID,
		UserID: e.UserID, HoldID: e.HoldID, OrderID: e.OrderID, PaymentID: paymentID,
		Quantity: e.Qty, Amount: e.AmountMinor, Currency: currency, Reason: e.Reason, At: &at,
	})
}

// FromOutbox builds the envelope of an outbox row. The row's columns win
// over the payload for the id, type and sale, which the relay keys on.
func FromOutbox(r OutboxRow) (*flashsalev1.Event, error) {
	var p Payload
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: outbox row %d: %v", ErrMalformed, r.Seq, err)
	}
	at := r.CreatedAt
	if p.At != nil {
		at = *p.At
	}
	e := &flashsalev1.Event{
		EventId: r.EventID, Type: types[flashsale.EventType(r.Type)], SaleId: r.SaleID,
		ProductId: p.ProductID, UserId: p.UserID, Quantity: int32(p.Quantity),
		Amount: p.Amount, Currency: p.Currency, Time: timestamppb.New(at),
		Reason: p.Reason, HoldId: p.HoldID, OrderId: p.OrderID, PaymentId: p.PaymentID,
	}
	return e, check(e)
}

// StreamEntry is one entry of a sale product's Redis event stream, as the
// Lua scripts wrote it: type, hold, user, qty, amount, reason, at (ms).
type StreamEntry struct {
	SaleID    string
	ProductID string
	ID        string // the stream entry id, e.g. 1767225600000-0
	Fields    map[string]string
}

// StreamEventID derives a hold event's id from its place in the stream: an
// entry keeps its id until the relay deletes it after publishing, so a
// redelivery carries the same id. ':' cannot occur in sale or product ids,
// so two products never share an id.
//
// NOTE: entry ids are Redis clock milliseconds, increasing per stream, and
// XDEL keeps the stream's last id; only a stream lost with its key (Redis
// without persistence) and a clock set back could reuse a published id.
func StreamEventID(saleID, productID, entryID string) string {
	return "ev_" + saleID + ":" + productID + ":" + entryID
}

// FromStream builds the envelope of a hold event. currency is the sale
// product's, which the scripts do not repeat in every entry.
func FromStream(s StreamEntry, currency string) (*flashsalev1.Event, error) {
	f := s.Fields
	qty, err1 := strconv.ParseInt(f["qty"], 10, 32)
	amount, err2 := strconv.ParseInt(f["amount"], 10, 64)
	atMS, err3 := strconv.ParseInt(f["at"], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("%w: stream entry %s of %s/%s: %v", ErrMalformed, s.ID,
			s.SaleID, s.ProductID, err)
	}
	e := &flashsalev1.Event{
		EventId: StreamEventID(s.SaleID, s.ProductID, s.ID),
		Type:    types[flashsale.EventType(f["type"])], SaleId: s.SaleID,
		ProductId: s.ProductID, UserId: f["user"], Quantity: int32(qty), Amount: amount,
		Currency: currency, Time: timestamppb.New(time.UnixMilli(atMS)),
		Reason: f["reason"], HoldId: f["hold"],
	}
	return e, check(e)
}
