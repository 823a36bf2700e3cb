package flashsale

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it. Each kind maps
// to exactly one Connect code in internal/rpc.
type Kind int

// Error kinds.
const (
	KindInternal Kind = iota
	KindInvalid
	KindNotFound
	KindPrecondition
	KindExhausted
	KindConflict
	KindForbidden
	KindUnauthenticated
	KindUnavailable
)

// Reason is a machine-readable cause sent to clients in the error details.
type Reason string

// Reasons that clients can switch on.
const (
	ReasonInvalidArgument     Reason = "INVALID_ARGUMENT"
	ReasonSaleNotFound        Reason = "SALE_NOT_FOUND"
	ReasonProductNotFound     Reason = "PRODUCT_NOT_FOUND"
	ReasonReservationNotFound Reason = "RESERVATION_NOT_FOUND"
	ReasonSaleConflict        Reason = "SALE_CONFLICT"
	ReasonSaleNotActive       Reason = "SALE_NOT_ACTIVE"
	ReasonSaleNotUpcoming     Reason = "SALE_NOT_UPCOMING"
	ReasonSoldOut             Reason = "SOLD_OUT"
	ReasonInsufficientStock   Reason = "INSUFFICIENT_STOCK"
	ReasonLimitReached        Reason = "USER_LIMIT_REACHED"
	ReasonRateLimited         Reason = "RATE_LIMITED"
	ReasonReservationExpired  Reason = "RESERVATION_EXPIRED"
	ReasonAlreadyReleased     Reason = "ALREADY_RELEASED"
	ReasonAlreadyConfirmed    Reason = "ALREADY_CONFIRMED"
	ReasonPaymentDeclined     Reason = "PAYMENT_DECLINED"
	ReasonPaymentNotFound     Reason = "PAYMENT_NOT_FOUND"
	ReasonPaymentMismatch     Reason = "PAYMENT_AMOUNT_MISMATCH"
	ReasonPaymentUsed         Reason = "PAYMENT_ALREADY_USED"
	ReasonPaymentForOther     Reason = "PAYMENT_FOR_ANOTHER_RESERVATION"
	ReasonConfirmInProgress   Reason = "CONFIRM_IN_PROGRESS"
	ReasonIdempotencyReused   Reason = "IDEMPOTENCY_KEY_REUSED"
	ReasonNotOwner            Reason = "NOT_RESERVATION_OWNER"
	ReasonUserMismatch        Reason = "USER_MISMATCH"
	ReasonStockNotLoaded      Reason = "STOCK_NOT_LOADED"
	ReasonUnauthenticated     Reason = "UNAUTHENTICATED"
	ReasonNotAdmin            Reason = "ADMIN_ROLE_REQUIRED"
	ReasonUnavailable         Reason = "DEPENDENCY_UNAVAILABLE"
)

// Error is the one error type the domain returns to callers. Message is safe
// to show to clients; Field names the offending request field in its JSON
// spelling when there is one; RetryAfter is set for rate limits.
type Error struct {
	Kind       Kind
	Reason     Reason
	Field      string
	Message    string
	RetryAfter int64 // milliseconds
	Err        error // cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error of a kind and reason with a client-safe message.
func Errorf(kind Kind, reason Reason, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in one field (JSON name, e.g. "quantity").
func Invalid(field, format string, args ...any) *Error {
	e := Errorf(KindInvalid, ReasonInvalidArgument, format, args...)
	e.Field = field
	e.Message = field + ": " + e.Message
	return e
}

// Unavailable wraps a dependency failure; the cause goes to logs only.
func Unavailable(what string, err error) *Error {
	return &Error{
		Kind:    KindUnavailable,
		Reason:  ReasonUnavailable,
		Message: what + " is unavailable, retry later",
		Err:     err,
	}
}

// ErrorKind returns the kind of err, KindInternal for foreign errors.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorReason returns the reason of err, empty for foreign errors.
func ErrorReason(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
