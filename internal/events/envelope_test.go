package events_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/flashsale"
)

func TestFromStream(t *testing.T) {
	t.Parallel()
	entry := events.StreamEntry{SaleID: "S1", ProductID: "P1", ID: "1767225600000-3",
		Fields: map[string]string{"type": "rejected", "hold": "r_X_P1", "user": "u1",
			"qty": "2", "amount": "1200", "reason": "sold_out", "at": "1767225600000"}}
	got, err := events.FromStream(entry, "USD")
	if err != nil {
		t.Fatal(err)
	}
	want := &flashsalev1.Event{EventId: "ev_S1:P1:1767225600000-3",
		Type: flashsalev1.EventType_EVENT_TYPE_REJECTED, SaleId: "S1", ProductId: "P1",
		UserId: "u1", Quantity: 2, Amount: 1200, Currency: "USD", Reason: "sold_out",
		HoldId: "r_X_P1", Time: timestamppb.New(time.UnixMilli(1767225600000))}
	if !proto.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if k := events.PartitionKey(got); k != "S1:P1" {
		t.Errorf("partition key: got %q, want S1:P1", k)
	}

	for name, f := range map[string]map[string]string{
		"unknown type": {"type": "teleported", "qty": "1", "amount": "1", "at": "1"},
		"bad qty":      {"type": "reserved", "qty": "x", "amount": "1", "at": "1"},
		"no time":      {"type": "reserved", "qty": "1", "amount": "1"},
	} {
		entry.Fields = f
		if _, err := events.FromStream(entry, "USD"); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestFromOutbox(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := created.Add(-time.Second)
	payload, err := events.NewPayload(flashsale.Event{ID: "ev_1",
		Type: flashsale.EventRefundRequired, SaleID: "S1", ProductID: "P1", UserID: "u1",
		HoldID: "r_1", Qty: 1, AmountMinor: 600, Reason: "reservation_expired", At: at},
		"pay_1", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.FromOutbox(events.OutboxRow{Seq: 7, EventID: "ev_1",
		Type: "refund_required", SaleID: "S1", Payload: payload, CreatedAt: created})
	if err != nil {
		t.Fatal(err)
	}
	want := &flashsalev1.Event{EventId: "ev_1",
		Type: flashsalev1.EventType_EVENT_TYPE_REFUND_REQUIRED, SaleId: "S1",
		ProductId: "P1", UserId: "u1", Quantity: 1, Amount: 600,
		Reason: "reservation_expired", HoldId: "r_1", PaymentId: "pay_1",
		Time: timestamppb.New(at)}
	if !proto.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// The order store's confirmed payload has no time: the row's stands in.
	got, err = events.FromOutbox(events.OutboxRow{Seq: 8, EventID: "ev_2",
		Type: "confirmed", SaleID: "S1", CreatedAt: created,
		Payload: []byte(`{"event_id":"ev_2","type":"confirmed","sale_id":"S1",` +
			`"product_id":"P1","order_id":"o_1","quantity":1,"amount":600,"currency":"USD"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetTime().AsTime().Equal(created) || got.GetOrderId() != "o_1" {
		t.Errorf("confirmed: got %v", got)
	}
}

func TestUnmarshalRefusesWhatIsNotAnEvent(t *testing.T) {
	t.Parallel()
	good := &flashsalev1.Event{EventId: "ev_1", Type: flashsalev1.EventType_EVENT_TYPE_RESERVED,
		SaleId: "S1", Time: timestamppb.Now()}
	for name, data := range map[string][]byte{
		"garbage": []byte("not an event at all"),
		"empty":   nil,
		"no id":   marshal(t, &flashsalev1.Event{Type: good.Type, SaleId: "S1", Time: good.Time}),
		"no type": marshal(t, &flashsalev1.Event{EventId: "ev_1", SaleId: "S1", Time: good.Time}),
		"bad sale": marshal(t, &flashsalev1.Event{EventId: "ev_1", Type: good.Type,
			SaleId: "a:b", Time: good.Time}),
	} {
		if _, err := events.Unmarshal(data); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	if _, err := events.Unmarshal(marshal(t, good)); err != nil {
		t.Errorf("good event: %v", err)
	}
}

func marshal(t *testing.T, e *flashsalev1.Event) []byte {
	t.Helper()
	b, err := events.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
