// Package inventory runs reservations: reserve, confirm, release and the
// sweep that reclaims expired holds. Redis (through flashsale.Holds) decides
// every hold atomically; PostgreSQL (through flashsale.Orders) is the truth
// for orders and refuses an oversell even if Redis was wrong.
package inventory

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// Config tunes the service.
type Config struct {
	// TTL is how long a hold lasts; its deadline is fixed when it is made.
	TTL time.Duration
	// Grace is how long a confirm that crashed between PostgreSQL and Redis
	// stays CONFIRMING before the sweeper resolves it.
	Grace time.Duration
}

// Service runs reservations.
type Service struct {
	holds    flashsale.Holds
	orders   flashsale.Orders
	payments flashsale.Payments
	limiter  flashsale.Limiter
	cache    loadMarker
	cfg      Config
	log      *slog.Logger

	// afterOrder runs between the order commit and the Redis mark; tests
	// set it to inject a crash there.
	afterOrder func(flashsale.HoldRef) error
	// beforeBegin runs between a confirm's checks and its Redis step, and
	// beforeOrder between that step and the order; tests set them to lose
	// Redis's data there.
	beforeBegin, beforeOrder func(flashsale.HoldRef)

	guardRefusals atomic.Int64
}

// loadMarker is the part of flashsale.SaleCache that tells whether Redis
// holds every live sale or lost its data and waits for a reload.
type loadMarker interface {
	Loaded(ctx context.Context) (bool, error)
}

// NewService wires a service. limiter may be nil to disable rate limits.
func NewService(
	holds flashsale.Holds,
	orders flashsale.Orders,
	payments flashsale.Payments,
	limiter flashsale.Limiter,
	cache loadMarker,
	cfg Config,
	log *slog.Logger,
) *Service {
	return &Service{holds: holds, orders: orders, payments: payments, limiter: limiter,
		cache: cache, cfg: cfg, log: log}
}

// GuardRefusals counts confirms that PostgreSQL refused because the product
// was sold out there while Redis still had stock.
func (s *Service) GuardRefusals() int64 { return s.guardRefusals.Load() }

func newID(prefix string) string {
	return prefix + ulid.MustNew(ulid.Now(), rand.Reader).String()
}

// ReserveInput is a shopper's reserve call.
type ReserveInput struct {
	SaleID, ProductID, UserID string
	Qty                       int
	IdempotencyKey            string
}

// Reservation is a hold as the shopper sees it.
type Reservation struct {
	Hold      flashsale.Hold
	Remaining int
}

// Reserve holds units for a user until a fixed deadline.
func (s *Service) Reserve(ctx context.Context, in ReserveInput) (Reservation, error) {
	if err := s.ration(ctx, "reserve", in.UserID); err != nil {
		if flashsale.ErrorReason(err) == flashsale.ReasonRateLimited {
			s.recordRateLimited(ctx, in)
		}
		return Reservation{}, err
	}
	attempt := flashsale.ReserveInput{
		HoldRef: flashsale.HoldRef{SaleID: in.SaleID, ProductID: in.ProductID,
			HoldID: flashsale.NewHoldID(ulid.MustNew(ulid.Now(), rand.Reader).String(), in.SaleID,
				in.ProductID)},
		UserID: in.UserID, Qty: in.Qty, TTL: s.cfg.TTL, IdempotencyKey: in.IdempotencyKey,
	}
	out, err := s.holds.Reserve(ctx, attempt)
	if err == nil && out.Result == flashsale.StockMissing {
		if err := s.reloading(ctx); err != nil {
			return Reservation{}, err
		}
		// A reload may have finished between the script and the check: one
		// more try (the first wrote nothing) tells a product being loaded
		// from one that does not exist.
		out, err = s.holds.Reserve(ctx, attempt)
	}
	if err != nil {
		return Reservation{}, err
	}
	if err := reserveError(in, out); err != nil {
		return Reservation{}, err
	}
	if out.Result == flashsale.Replayed {
		if err := replayError(in, out.Hold); err != nil {
			return Reservation{}, err
		}
	}
	return Reservation{Hold: out.Hold, Remaining: out.Remaining}, nil
}

// rateLimitedWindow is the least time between two rate_limited events of
// one shopper and product: the report counts refused bursts, and a client
// that ignores its retry delay cannot turn each call into an event.
const rateLimitedWindow = time.Second

// recordRateLimited makes a reserve that the limiter refused a rejected
// event, so the report counts it with the other refusals. It is best effort:
// the shopper's answer is the rate limit whatever happens here.
func (s *Service) recordRateLimited(ctx context.Context, in ReserveInput) {
	ref := flashsale.HoldRef{SaleID: in.SaleID, ProductID: in.ProductID}
	if _, err := s.holds.RateLimited(ctx, ref, in.UserID, in.Qty, rateLimitedWindow); err != nil {
		s.log.WarnContext(ctx, "rate-limited reserve not recorded", "sale_id", in.SaleID,
			"product_id", in.ProductID, "err", err.Error())
	}
}

// replayError decides what a retried reserve answers. The same request gets
// its hold back while the hold lives (or became an order); a key reused for
// another quantity, or whose hold is gone, is refused rather than reported
// as a hold that holds nothing.
func replayError(in ReserveInput, h flashsale.Hold) error {
	switch {
	case h.Qty != in.Qty:
		return flashsale.Errorf(flashsale.KindConflict, flashsale.ReasonIdempotencyReused,
			"Idempotency-Key was used for a reservation of %d units, not %d", h.Qty, in.Qty)
	case h.State == flashsale.HoldReleased:
		return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonAlreadyReleased,
			"Idempotency-Key belongs to reservation %s, which was released", h.HoldID)
	case h.State == flashsale.HoldExpired || h.State == flashsale.HoldDiscarded:
		return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonReservationExpired,
			"Idempotency-Key belongs to reservation %s, which expired", h.HoldID)
	}
	return nil
}

// reserveError turns a refused reserve into the error the shopper sees.
func reserveError(in ReserveInput, out flashsale.ReserveOutcome) error {
	switch out.Result {
	case flashsale.Reserved, flashsale.Replayed:
		return nil
	case flashsale.StockMissing:
		return flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonProductNotFound,
			"product %s is not on sale %s", in.ProductID, in.SaleID)
	case flashsale.SoldOut:
		return flashsale.Errorf(flashsale.KindExhausted, flashsale.ReasonSoldOut,
			"product %s is sold out", in.ProductID)
	case flashsale.Insufficient:
		return flashsale.Errorf(flashsale.KindExhausted, flashsale.ReasonInsufficientStock,
			"only %d units of %s are left", out.Remaining, in.ProductID)
	case flashsale.LimitReached:
		return flashsale.Errorf(flashsale.KindExhausted, flashsale.ReasonLimitReached,
			"at most %d units of %s per shopper", out.Limit, in.ProductID)
	case flashsale.QtyAboveLimit:
		return flashsale.Invalid("quantity", "must be at most %d, the sale's per-user limit",
			out.Limit)
	case flashsale.NotStarted:
		return notActive(in.SaleID, flashsale.StatusUpcoming)
	case flashsale.Paused:
		return notActive(in.SaleID, flashsale.StatusPaused)
	case flashsale.Ended:
		return notActive(in.SaleID, flashsale.StatusEnded)
	}
	return fmt.Errorf("reserve %s: unknown outcome %d", in.ProductID, out.Result)
}

func notActive(saleID string, status flashsale.Status) error {
	return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonSaleNotActive,
		"sale %s is %s", saleID, status)
}

// ration applies the per-user rate limit of one operation.
func (s *Service) ration(ctx context.Context, op, userID string) error {
	if s.limiter == nil {
		return nil
	}
	wait, err := s.limiter.Allow(ctx, op+":"+userID)
	if err != nil || wait == 0 {
		return err
	}
	e := flashsale.Errorf(flashsale.KindExhausted, flashsale.ReasonRateLimited,
		"too many %s calls, retry in %s", op, wait.Round(time.Millisecond))
	e.RetryAfter = wait.Milliseconds()
	return e
}

// ref locates a hold from the sale and the reservation id.
func ref(saleID, holdID string) (flashsale.HoldRef, error) {
	productID, ok := flashsale.ParseHoldID(holdID, saleID)
	if !ok {
		return flashsale.HoldRef{}, flashsale.Errorf(flashsale.KindNotFound,
			flashsale.ReasonReservationNotFound, "reservation %s not found", holdID)
	}
	return flashsale.HoldRef{SaleID: saleID, ProductID: productID, HoldID: holdID}, nil
}

// owned reads a hold and checks that userID made it.
func (s *Service) owned(ctx context.Context, r flashsale.HoldRef, userID string) (flashsale.Hold, error) {
	h, err := s.holds.Hold(ctx, r)
	if flashsale.ErrorKind(err) == flashsale.KindNotFound {
		if rerr := s.reloading(ctx); rerr != nil {
			return h, rerr
		}
	}
	if err != nil {
		return h, err
	}
	if h.UserID != userID {
		return h, flashsale.Errorf(flashsale.KindForbidden, flashsale.ReasonNotOwner,
			"reservation %s belongs to another shopper", r.HoldID)
	}
	return h, nil
}

// reloading is unavailable between Redis losing its data and the sweeper's
// reload: a missing product or hold then is not an answer a shopper should
// take as final. Otherwise it is nil.
func (s *Service) reloading(ctx context.Context) error {
	if loaded, err := s.cache.Loaded(ctx); err == nil && !loaded {
		return flashsale.Unavailable("sale cache", errors.New("reloading after a restart"))
	}
	return nil
}

// Release gives a hold's units back. Releasing a released or expired hold
// is a no-op that succeeds; a confirmed hold cannot be released.
func (s *Service) Release(ctx context.Context, userID, saleID, holdID string) error {
	r, err := ref(saleID, holdID)
	if err != nil {
		return err
	}
	if _, err := s.owned(ctx, r, userID); flashsale.ErrorKind(err) == flashsale.KindNotFound {
		// Redis may have lost a hold whose order had committed.
		if _, found, oerr := s.lostHoldOrder(ctx, r, userID); oerr != nil || !found {
			return cmp.Or(oerr, err)
		}
		return alreadyConfirmed(holdID)
	} else if err != nil {
		return err
	}
	was, _, err := s.holds.Release(ctx, r)
	if flashsale.ErrorKind(err) == flashsale.KindNotFound {
		// Redis lost the hold since it was read.
		if rerr := s.reloading(ctx); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return err
	}
	switch was {
	case flashsale.HoldConfirming:
		return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonConfirmInProgress,
			"reservation %s is being confirmed and cannot be released now", holdID)
	case flashsale.HoldConfirmed:
		return alreadyConfirmed(holdID)
	}
	return nil
}

func alreadyConfirmed(holdID string) error {
	return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonAlreadyConfirmed,
		"reservation %s is confirmed and cannot be released", holdID)
}

// Counters reads a sale product's stock counters from Redis.
func (s *Service) Counters(ctx context.Context, saleID, productID string) (flashsale.Counters, error) {
	return s.holds.Counters(ctx, saleID, productID)
}
