package flashsale

import "time"

// EventType names a state change. Every change becomes one event.
type EventType string

// Event types.
const (
	EventSaleCreated    EventType = "sale_created"
	EventSalePaused     EventType = "sale_paused"
	EventSaleResumed    EventType = "sale_resumed"
	EventSaleEnded      EventType = "sale_ended"
	EventReserved       EventType = "reserved"
	EventRejected       EventType = "rejected"
	EventReleased       EventType = "released"
	EventExpired        EventType = "expired"
	EventConfirmed      EventType = "confirmed"
	EventPaymentDecline EventType = "payment_declined"
	EventRefundRequired EventType = "refund_required"
)

// Event is one state change. ID is unique and stable: a redelivered event
// keeps its id, so consumers deduplicate on it.
type Event struct {
	ID          string
	Type        EventType
	SaleID      string
	ProductID   string
	UserID      string
	HoldID      string
	OrderID     string
	Qty         int
	AmountMinor int64
	Reason      string
	At          time.Time
}
