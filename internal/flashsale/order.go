package flashsale

import (
	"context"
	"time"
)

// Order is a confirmed purchase: the truth, kept in PostgreSQL.
type Order struct {
	ID          string
	UserID      string
	SaleID      string
	ProductID   string
	HoldID      string
	PaymentID   string
	Qty         int
	AmountMinor int64
	Currency    string
	CreatedAt   time.Time
}

// Orders stores orders (PostgreSQL).
type Orders interface {
	// Place inserts the order, raises the product's sold count with the guard
	// sold + qty <= total, and writes the order's outbox event, in one
	// transaction. When the hold already has an order it returns that order
	// instead. A refused guard is KindExhausted with ReasonSoldOut, or
	// ReasonLimitReached when the user's orders would pass the per-user
	// limit; a payment bound to another hold (its order or a refund owed) is
	// KindConflict, ReasonPaymentUsed; a hold the sweeper aborted is
	// KindPrecondition, ReasonReservationExpired.
	Place(ctx context.Context, o Order) (Order, error)
	// Abort records that a hold will never get an order, unless its order
	// committed first (then aborted is false). Place and Abort exclude each
	// other, so a slow confirm and the sweeper never both win.
	Abort(ctx context.Context, holdID string) (aborted bool, err error)
	// Aborted reports whether Abort has decided a hold will never get an
	// order.
	Aborted(ctx context.Context, holdID string) (bool, error)
	// Sold returns the units sold of each sale product (0 for an unknown
	// one), in the order given.
	Sold(ctx context.Context, products []HoldRef) ([]int, error)
	// Bought returns a shopper's units in the orders of a sale product.
	Bought(ctx context.Context, ref HoldRef, userID string) (int, error)
	// ByHold returns the order of a hold, if there is one.
	ByHold(ctx context.Context, holdID string) (Order, bool, error)
	// PaymentBinding returns the hold a payment is bound to: the one it
	// paid an order for, or the one it is owed back for.
	PaymentBinding(ctx context.Context, paymentID string) (PaymentBinding, bool, error)
	// OweRefund binds the payment to the hold of e as owed back and records
	// the refund_required event, in one transaction, once: a retry records
	// nothing new. A payment bound to another hold is KindConflict,
	// ReasonPaymentUsed; one that bought this hold's order is KindConflict,
	// ReasonAlreadyConfirmed; nothing is recorded for either.
	OweRefund(ctx context.Context, e Event, paymentID string) error
	// RecordEvent durably records an event that changes no stored state but
	// must reach the stream (a declined payment), once per occurrence: its
	// id derives from the event and the payment, so a retried confirm
	// records nothing new.
	RecordEvent(ctx context.Context, e Event, paymentID string) error
}

// PaymentBinding is the one hold a payment serves for good.
type PaymentBinding struct {
	HoldID string
	// Refund: the payment is owed back for the hold rather than paying its
	// order.
	Refund bool
}

// PaymentStatus is what the provider says about a payment.
type PaymentStatus string

// Payment statuses.
const (
	PaymentPaid     PaymentStatus = "PAID"
	PaymentDeclined PaymentStatus = "DECLINED"
)

// Payment is a provider's record of a payment.
type Payment struct {
	ID          string
	AmountMinor int64
	Currency    string
	Status      PaymentStatus
	// Reference is the reservation the payment was made for, when the
	// client named one (a provider's merchant reference); empty otherwise.
	Reference string
}

// Payments looks up payments at the provider. KindNotFound with
// ReasonPaymentNotFound when the id is unknown.
type Payments interface {
	Payment(ctx context.Context, id string) (Payment, error)
}

// Limiter rations calls per key. It returns how long to wait when the call
// is over the rate.
type Limiter interface {
	Allow(ctx context.Context, key string) (retryAfter time.Duration, err error)
}
