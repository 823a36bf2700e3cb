package flashsale

import (
	"context"
	"hash/fnv"
	"strings"
	"time"
)

// HoldState is where a reservation is in its life.
//
//	HELD ──confirm──▶ CONFIRMING ──order committed──▶ CONFIRMED
//	  │                   │
//	  │                   └─no order by deadline+grace─▶ EXPIRED (units back)
//	  ├──release──▶ RELEASED (units back)
//	  └──deadline──▶ EXPIRED (units back)
//
// DISCARDED is a CONFIRMING hold whose order PostgreSQL refused because the
// product was already sold out there; its units are not returned to Redis
// stock, which was above the truth.
type HoldState string

// Hold states.
const (
	HoldHeld       HoldState = "HELD"
	HoldConfirming HoldState = "CONFIRMING"
	HoldConfirmed  HoldState = "CONFIRMED"
	HoldReleased   HoldState = "RELEASED"
	HoldExpired    HoldState = "EXPIRED"
	HoldDiscarded  HoldState = "DISCARDED"
)

// HoldRef locates a hold: every key of one sale product shares a slot.
type HoldRef struct {
	SaleID    string
	ProductID string
	HoldID    string
}

// Hold is a reservation of units for one user until a fixed deadline.
type Hold struct {
	HoldRef
	UserID      string
	Qty         int
	AmountMinor int64
	Currency    string
	Deadline    time.Time
	State       HoldState
}

const holdPrefix = "r_"

// Reservation ids carry a token of tokenLen characters (a ULID) and a
// saleTagLen-character tag of their sale.
const (
	tokenLen   = 26
	saleTagLen = 6
)

// NewHoldID builds a reservation id from a unique, unguessable token (a
// ULID), a tag of the sale and the product id: r_<token><tag>_<productID>.
// The product lets the hold's keys be found from the id and the sale; the
// tag tells a reservation named with the wrong sale from one that Redis
// lost, so a confirm sent to the wrong sale never owes its payment back.
func NewHoldID(token, saleID, productID string) string {
	return holdPrefix + token + saleTag(saleID) + "_" + productID
}

// ParseHoldID returns the product id inside a reservation id of the sale;
// false when the id is malformed (a character dropped or added in the token
// included) or its tag names another sale.
func ParseHoldID(id, saleID string) (productID string, ok bool) {
	rest, ok := strings.CutPrefix(id, holdPrefix)
	if !ok {
		return "", false
	}
	token, productID, ok := strings.Cut(rest, "_")
	if !ok || !IDPattern.MatchString(productID) || len(token) != tokenLen+saleTagLen ||
		token[tokenLen:] != saleTag(saleID) {
		return "", false
	}
	return productID, true
}

// saleTag is a 30-bit checksum of a sale id (FNV-1a) in the ULID alphabet:
// not a secret, only a check that a reservation id was minted for the sale.
func saleTag(saleID string) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	h := fnv.New64a()
	_, _ = h.Write([]byte(saleID))
	n := h.Sum64()
	tag := make([]byte, saleTagLen)
	for i := range tag {
		tag[i] = alphabet[n&31]
		n >>= 5
	}
	return string(tag)
}

// ReserveInput is one reserve attempt as the hold store sees it.
type ReserveInput struct {
	HoldRef
	UserID         string
	Qty            int
	TTL            time.Duration
	IdempotencyKey string // empty when the client sent none
}

// ReserveResult is the typed outcome of the reserve script. Every outcome is
// a normal answer, not an error; only a failed dependency is an error.
type ReserveResult int

// Reserve outcomes.
const (
	// Reserved: a new hold was created.
	Reserved ReserveResult = iota + 1
	// Replayed: the idempotency key had been seen; Hold is the original hold.
	Replayed
	// StockMissing: the sale product was never loaded into Redis.
	StockMissing
	// SoldOut: no unit is left.
	SoldOut
	// Insufficient: fewer units are left than asked for; nothing was taken.
	Insufficient
	// LimitReached: held plus bought units would exceed the per-user limit.
	LimitReached
	// QtyAboveLimit: the quantity alone exceeds the per-user limit.
	QtyAboveLimit
	// NotStarted, Paused, Ended: the sale does not accept holds now.
	NotStarted
	Paused
	Ended
)

// ReserveOutcome carries the hold (for Reserved and Replayed), the units
// left and the sale product's per-user limit.
type ReserveOutcome struct {
	Result    ReserveResult
	Hold      Hold
	Remaining int
	Limit     int
}

// BeginResult is the outcome of moving a hold to CONFIRMING.
type BeginResult int

// BeginConfirm outcomes.
const (
	// Begun: the hold is CONFIRMING now (or already was): write the order.
	Begun BeginResult = iota + 1
	// Retaken: the hold had expired, and its units were taken again for
	// the late payment; it is CONFIRMING now.
	Retaken
	// AlreadyConfirmed: an order exists; answer with it.
	AlreadyConfirmed
	// WasReleased: the shopper released the hold.
	WasReleased
	// WasExpired: the hold expired and its units could not be taken again.
	WasExpired
	// ConfirmBusy: the hold is being confirmed with another payment; try
	// again once that confirm has ended.
	ConfirmBusy
)

// SweepResult reports one sweep of a sale product.
type SweepResult struct {
	// Expired counts HELD holds whose units went back to stock.
	Expired int
	// Stuck lists CONFIRMING holds past deadline plus grace: a confirm
	// crashed between PostgreSQL and Redis. The sweeper asks PostgreSQL
	// whether the order exists and finishes or aborts each.
	Stuck []Hold
}

// Counters are a sale product's stock counters in Redis. Without failures,
// Available + Held + Sold + Discarded == Total at every instant.
type Counters struct {
	Total     int
	Available int
	Held      int
	Sold      int
	Discarded int
}

// Holds is the atomic hold store (Redis Lua). Each method is one atomic step
// on one sale product; none of them touches PostgreSQL.
type Holds interface {
	// Reserve reclaims the product's expired holds, then checks the sale and
	// the limits and takes the units, all against the store's own clock.
	Reserve(ctx context.Context, in ReserveInput) (ReserveOutcome, error)
	// RateLimited records a reserve that the rate limiter refused as a
	// rejected event (reason rate_limited), at most one per shopper and
	// product per window, and none for a product the store does not have.
	// It reports whether it recorded one.
	RateLimited(ctx context.Context, ref HoldRef, userID string, qty int, window time.Duration) (bool, error)
	// Hold reads a hold; KindNotFound when there is none.
	Hold(ctx context.Context, ref HoldRef) (Hold, error)
	// BeginConfirm moves a hold to CONFIRMING with paymentID until
	// deadline+grace. A HELD hold past its deadline, or an EXPIRED one, is
	// taken again when stock and the user's limit allow (Retaken), else
	// WasExpired.
	BeginConfirm(ctx context.Context, ref HoldRef, paymentID string, grace time.Duration) (BeginResult, Hold, error)
	// UndoConfirm moves a CONFIRMING hold back to HELD (or EXPIRED, units
	// back, past its deadline) when its order was refused for a reason that
	// leaves the hold good, if paymentID is the one confirming it.
	UndoConfirm(ctx context.Context, ref HoldRef, paymentID string) error
	// FinishConfirm marks a CONFIRMING (or undone, HELD) hold CONFIRMED once
	// its order exists (idempotent).
	FinishConfirm(ctx context.Context, ref HoldRef) error
	// AbortConfirm ends a CONFIRMING hold without an order: EXPIRED with its
	// units back, or DISCARDED without them when returnUnits is false.
	AbortConfirm(ctx context.Context, ref HoldRef, returnUnits bool) error
	// Release gives a HELD hold's units back. It reports the state the hold
	// was in; RELEASED or EXPIRED holds are left alone.
	Release(ctx context.Context, ref HoldRef) (HoldState, Hold, error)
	// Sweep reclaims up to limit expired holds of each product and lists
	// the stuck CONFIRMING ones, in one round trip. Results come in the
	// order of products; a product whose sweep failed has a zero result and
	// its error is joined into err.
	Sweep(ctx context.Context, products []HoldRef, limit int) ([]SweepResult, error)
	// CatchUp moves to sold, for each product, the units PostgreSQL sold
	// (pgSold, read before the call) beyond what the store counts as sold or
	// being confirmed: orders whose holds it lost. It returns the units
	// moved per product.
	CatchUp(ctx context.Context, products []HoldRef, pgSold []int) ([]int, error)
	// CountLostOrder counts an order whose hold the store lost while the
	// order committed (pgSold, and bought, the shopper's units in orders,
	// read after the commit): the shopper's count rises to bought plus their
	// live holds, and units the store has not counted leave stock, once. It
	// reports whether it counted the order.
	CountLostOrder(ctx context.Context, o Order, pgSold, bought int) (bool, error)
	// Counters reads a sale product's stock counters.
	Counters(ctx context.Context, saleID, productID string) (Counters, error)
}
