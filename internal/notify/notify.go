// Package notify turns events into notifications: an order confirmation per
// confirmed order, a failure notice per declined payment or refund owed, and
// an alert per sale change. Notifications go out through a Sender port:
// Amazon SNS in AWS, a table in the analytics database locally.
package notify

import (
	"context"
	"fmt"
	"time"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/events"
)

// Kind names what a notification is about.
type Kind string

// Notification kinds.
const (
	OrderConfirmed Kind = "order_confirmed"
	PaymentFailed  Kind = "payment_failed"
	RefundRequired Kind = "refund_required"
	SaleAlert      Kind = "sale_alert"
)

// Notification is one message to a shopper (UserID set) or to the sale's
// watchers (UserID empty). ID is the id of the event it comes from, so a
// sender deduplicates on it.
type Notification struct {
	ID      string
	Kind    Kind
	SaleID  string
	UserID  string
	Subject string
	Body    string
	At      time.Time
}

// Sender delivers notifications. Sending one id twice delivers it once
// where the channel allows (see each sender).
type Sender interface {
	Send(ctx context.Context, n Notification) error
}

// Notifier is the events consumer that sends notifications.
type Notifier struct{ send Sender }

var _ events.Consumer = (*Notifier)(nil)

// NewNotifier returns a notifier sending through s.
func NewNotifier(s Sender) *Notifier { return &Notifier{send: s} }

// Consume sends one notification per event that calls for one; the other
// events succeed without a message.
func (n *Notifier) Consume(ctx context.Context, evs []*flashsalev1.Event) []error {
	errs := make([]error, len(evs))
	for i, e := range evs {
		msg, ok := For(e)
		if !ok {
			continue
		}
		if err := n.send.Send(ctx, msg); err != nil {
			errs[i] = fmt.Errorf("notify %s: %w", e.GetEventId(), err)
		}
	}
	return errs
}

// For returns the notification an event calls for, if any.
func For(e *flashsalev1.Event) (Notification, bool) {
	n := Notification{ID: e.GetEventId(), SaleID: e.GetSaleId(), UserID: e.GetUserId(),
		At: e.GetTime().AsTime().UTC()}
	money := fmt.Sprintf("%d %s (minor units)", e.GetAmount(), e.GetCurrency())
	switch e.GetType() {
	case flashsalev1.EventType_EVENT_TYPE_CONFIRMED:
		n.Kind, n.Subject = OrderConfirmed, "Your order is confirmed"
		n.Body = fmt.Sprintf("Order %s: %d x %s in sale %s, paid %s.", e.GetOrderId(),
			e.GetQuantity(), e.GetProductId(), e.GetSaleId(), money)
	case flashsalev1.EventType_EVENT_TYPE_PAYMENT_DECLINED:
		n.Kind, n.Subject = PaymentFailed, "Your payment was declined"
		n.Body = fmt.Sprintf("Payment %s for reservation %s was declined; the "+
			"reservation stays until its deadline.", e.GetPaymentId(), e.GetHoldId())
	case flashsalev1.EventType_EVENT_TYPE_REFUND_REQUIRED:
		n.Kind, n.Subject = RefundRequired, "Your payment will be refunded"
		n.Body = fmt.Sprintf("Reservation %s expired before payment %s arrived; %s "+
			"will be refunded.", e.GetHoldId(), e.GetPaymentId(), money)
	case flashsalev1.EventType_EVENT_TYPE_SALE_CREATED,
		flashsalev1.EventType_EVENT_TYPE_SALE_PAUSED,
		flashsalev1.EventType_EVENT_TYPE_SALE_RESUMED,
		flashsalev1.EventType_EVENT_TYPE_SALE_ENDED:
		what := events.Name(e.GetType())
		n.Kind, n.UserID = SaleAlert, ""
		n.Subject = fmt.Sprintf("Sale %s: %s", e.GetSaleId(), what)
		n.Body = fmt.Sprintf("Flash sale %s: %s at %s.", e.GetSaleId(), what,
			n.At.Format(time.RFC3339))
	default:
		return Notification{}, false
	}
	return n, true
}
