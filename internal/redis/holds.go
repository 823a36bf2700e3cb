package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
)

var (
	//go:embed lua/lib.lua
	libLua string
	//go:embed lua/reserve.lua
	reserveLua string
	//go:embed lua/hold.lua
	holdLua string
	//go:embed lua/begin_confirm.lua
	beginConfirmLua string
	//go:embed lua/finish_confirm.lua
	finishConfirmLua string
	//go:embed lua/abort_confirm.lua
	abortConfirmLua string
	//go:embed lua/release.lua
	releaseLua string
	//go:embed lua/sweep.lua
	sweepLua string
	//go:embed lua/counters.lua
	countersLua string
	//go:embed lua/retire.lua
	retireLua string
	//go:embed lua/undo_confirm.lua
	undoConfirmLua string
	//go:embed lua/catch_up.lua
	catchUpLua string
	//go:embed lua/rate_limited.lua
	rateLimitedLua string
	//go:embed lua/finish_load.lua
	finishLoadLua string
	//go:embed lua/count_lost_order.lua
	countLostOrderLua string
)

// Each script is the shared library followed by one body, joined once here so
// that the text (and so the SHA that EVALSHA sends) is fixed for the process.
var (
	reserveScript       = holdScript(reserveLua)
	holdReadScript      = holdScript(holdLua)
	beginConfirmScript  = holdScript(beginConfirmLua)
	finishConfirmScript = holdScript(finishConfirmLua)
	abortConfirmScript  = holdScript(abortConfirmLua)
	releaseScript       = holdScript(releaseLua)
	sweepScript         = holdScript(sweepLua)
	countersScript      = holdScript(countersLua)
	retireScript        = holdScript(retireLua)
	undoConfirmScript   = holdScript(undoConfirmLua)
	catchUpScript       = holdScript(catchUpLua)
	rateLimitedScript   = holdScript(rateLimitedLua)
	finishLoadScript    = holdScript(finishLoadLua)
	countLostScript     = holdScript(countLostOrderLua)
)

func holdScript(body string) *redis.Script {
	return redis.NewScript(libLua + "\n" + body)
}

// reclaimBatch bounds the expired holds one script returns to stock, so that
// a backlog after an outage cannot make a hot-path script run long; the next
// scripts and the sweeper take the rest.
const reclaimBatch = 50

// HoldStore is the hold store on Redis. Each method runs one Lua script on
// the eight keys of one sale product, so each is atomic and, in a cluster,
// runs on one slot. Deadlines come from the Redis clock.
type HoldStore struct {
	c redis.UniversalClient
}

var _ flashsale.Holds = (*HoldStore)(nil)

// NewHoldStore returns a hold store on a standalone or cluster client.
func NewHoldStore(c redis.UniversalClient) *HoldStore {
	return &HoldStore{c: c}
}

var reserveResults = map[string]flashsale.ReserveResult{
	"reserved":           flashsale.Reserved,
	"replayed":           flashsale.Replayed,
	"stock_missing":      flashsale.StockMissing,
	"sold_out":           flashsale.SoldOut,
	"insufficient_stock": flashsale.Insufficient,
	"limit_reached":      flashsale.LimitReached,
	"qty_above_limit":    flashsale.QtyAboveLimit,
	"not_started":        flashsale.NotStarted,
	"paused":             flashsale.Paused,
	"ended":              flashsale.Ended,
}

// Reserve runs the reserve script. A refusal (sold out, limit, sale not
// active) is a result, not an error, and also becomes a rejected event whose
// hold id is the one the caller proposed. A hold id that is already recorded
// answers Replayed: the driver re-sends a call whose reply timed out.
func (s *HoldStore) Reserve(
	ctx context.Context,
	in flashsale.ReserveInput,
) (flashsale.ReserveOutcome, error) {
	if in.Qty < 1 {
		return flashsale.ReserveOutcome{}, flashsale.Invalid("quantity", "must be at least 1")
	}
	// '|' would break the hold record, and ':' would let "a:b"+"c" and
	// "a"+"b:c" share an idempotency field, replaying one user's hold to another.
	if in.UserID == "" || strings.ContainsAny(in.UserID, "|:") {
		return flashsale.ReserveOutcome{},
			flashsale.Invalid("userId", "must be set, without '|' or ':'")
	}
	if in.TTL < time.Millisecond {
		return flashsale.ReserveOutcome{}, fmt.Errorf("reserve: ttl %v is below 1ms", in.TTL)
	}
	r, err := s.runHold(ctx, "reserve", reserveScript, in.HoldRef,
		in.HoldID, in.UserID, in.Qty, in.TTL.Milliseconds(), in.IdempotencyKey, reclaimBatch)
	if err != nil {
		return flashsale.ReserveOutcome{}, err
	}
	result, ok := reserveResults[r.outcome]
	if !ok {
		return flashsale.ReserveOutcome{}, fmt.Errorf("reserve: unknown outcome %q", r.outcome)
	}
	return flashsale.ReserveOutcome{
		Result: result, Hold: r.hold, Remaining: r.remaining, Limit: r.limit,
	}, nil
}

// RateLimited records a reserve that the rate limiter refused, as a
// rejected event of the product with reason rate_limited, at most once per
// shopper and product per window, and only for a loaded sale product.
func (s *HoldStore) RateLimited(
	ctx context.Context,
	ref flashsale.HoldRef,
	userID string,
	qty int,
	window time.Duration,
) (bool, error) {
	v, err := s.run(ctx, "record rate limit", rateLimitedScript, ref,
		userID, qty, window.Milliseconds())
	if err != nil {
		return false, err
	}
	n, ok := v.(int64)
	if !ok {
		return false, fmt.Errorf("record rate limit: unexpected reply %v", v)
	}
	return n == 1, nil
}

// Hold reads one hold.
func (s *HoldStore) Hold(ctx context.Context, ref flashsale.HoldRef) (flashsale.Hold, error) {
	r, err := s.runHold(ctx, "read hold", holdReadScript, ref, ref.HoldID)
	if err != nil {
		return flashsale.Hold{}, err
	}
	if r.outcome == "not_found" {
		return flashsale.Hold{}, holdNotFound(ref)
	}
	return r.hold, nil
}

var beginResults = map[string]flashsale.BeginResult{
	"begun":             flashsale.Begun,
	"retaken":           flashsale.Retaken,
	"already_confirmed": flashsale.AlreadyConfirmed,
	"was_released":      flashsale.WasReleased,
	"was_expired":       flashsale.WasExpired,
	"busy":              flashsale.ConfirmBusy,
}

// BeginConfirm moves a hold to CONFIRMING until its deadline plus grace (or,
// for a late payment that took its units again, until now plus grace). A
// DISCARDED hold answers WasExpired: PostgreSQL already refused its order.
func (s *HoldStore) BeginConfirm(
	ctx context.Context,
	ref flashsale.HoldRef,
	paymentID string,
	grace time.Duration,
) (flashsale.BeginResult, flashsale.Hold, error) {
	if grace < 0 {
		return 0, flashsale.Hold{}, fmt.Errorf("begin confirm: negative grace %v", grace)
	}
	r, err := s.runHold(ctx, "begin confirm", beginConfirmScript, ref,
		ref.HoldID, grace.Milliseconds(), reclaimBatch, paymentID)
	if err != nil {
		return 0, flashsale.Hold{}, err
	}
	if r.outcome == "not_found" {
		return 0, flashsale.Hold{}, holdNotFound(ref)
	}
	result, ok := beginResults[r.outcome]
	if !ok {
		return 0, flashsale.Hold{}, fmt.Errorf("begin confirm: unknown outcome %q", r.outcome)
	}
	return result, r.hold, nil
}

// FinishConfirm marks a CONFIRMING hold CONFIRMED once its order exists. A
// hold in any other state but CONFIRMED is a KindPrecondition error.
func (s *HoldStore) FinishConfirm(ctx context.Context, ref flashsale.HoldRef) error {
	r, err := s.runHold(ctx, "finish confirm", finishConfirmScript, ref,
		ref.HoldID, reclaimBatch)
	if err != nil {
		return err
	}
	switch r.outcome {
	case "confirmed", "noop":
		return nil
	case "not_found":
		return holdNotFound(ref)
	case "bad_state":
		reason := flashsale.ReasonReservationExpired
		if r.hold.State == flashsale.HoldReleased {
			reason = flashsale.ReasonAlreadyReleased
		}
		return flashsale.Errorf(flashsale.KindPrecondition, reason,
			"reservation %s is %s, not confirming", ref.HoldID, r.hold.State)
	}
	return fmt.Errorf("finish confirm: unknown outcome %q", r.outcome)
}

// AbortConfirm ends a CONFIRMING hold without an order; holds in any other
// state are left alone.
func (s *HoldStore) AbortConfirm(
	ctx context.Context,
	ref flashsale.HoldRef,
	returnUnits bool,
) error {
	give := "0"
	if returnUnits {
		give = "1"
	}
	r, err := s.runHold(ctx, "abort confirm", abortConfirmScript, ref,
		ref.HoldID, give, reclaimBatch)
	if err != nil {
		return err
	}
	switch r.outcome {
	case "expired", "discarded", "noop":
		return nil
	case "not_found":
		return holdNotFound(ref)
	}
	return fmt.Errorf("abort confirm: unknown outcome %q", r.outcome)
}

// UndoConfirm moves a CONFIRMING hold back to HELD (EXPIRED with its units
// back when its deadline has passed), if paymentID is the payment that last
// is confirming it; otherwise it changes nothing.
func (s *HoldStore) UndoConfirm(ctx context.Context, ref flashsale.HoldRef, paymentID string) error {
	r, err := s.runHold(ctx, "undo confirm", undoConfirmScript, ref,
		ref.HoldID, paymentID, reclaimBatch)
	if err != nil {
		return err
	}
	switch r.outcome {
	case "held", "expired", "noop":
		return nil
	case "not_found":
		return holdNotFound(ref)
	}
	return fmt.Errorf("undo confirm: unknown outcome %q", r.outcome)
}

// Release gives a HELD hold's units back, even past its deadline when no
// script has reclaimed it yet, and reports the state the hold was in. The
// hold comes back as it is after the call.
func (s *HoldStore) Release(
	ctx context.Context,
	ref flashsale.HoldRef,
) (flashsale.HoldState, flashsale.Hold, error) {
	r, err := s.runHold(ctx, "release", releaseScript, ref, ref.HoldID, reclaimBatch)
	if err != nil {
		return "", flashsale.Hold{}, err
	}
	if r.outcome == "not_found" {
		return "", flashsale.Hold{}, holdNotFound(ref)
	}
	return flashsale.HoldState(r.outcome), r.hold, nil
}

// Sweep reclaims up to limit expired holds of each product and lists up to
// limit CONFIRMING holds whose deadline plus grace has passed.
func (s *HoldStore) Sweep(
	ctx context.Context,
	products []flashsale.HoldRef,
	limit int,
) ([]flashsale.SweepResult, error) {
	if limit < 1 {
		return nil, fmt.Errorf("sweep: limit %d is below 1", limit)
	}
	replies, errs := s.runEach(ctx, "sweep", sweepScript, products,
		func(int) []any { return []any{limit} })
	out := make([]flashsale.SweepResult, len(products))
	for i, ref := range products {
		if replies[i] == nil {
			continue
		}
		r, err := parseSweep(ref, replies[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[i] = r
	}
	return out, errors.Join(errs...)
}

// CatchUp moves to sold, for each product, the units that PostgreSQL sold
// (pgSold, read before the call) beyond what Redis counts as sold or being
// confirmed, in one round trip per node. It returns the units moved.
func (s *HoldStore) CatchUp(
	ctx context.Context,
	products []flashsale.HoldRef,
	pgSold []int,
) ([]int, error) {
	if len(pgSold) != len(products) {
		return nil, fmt.Errorf("catch up: %d counts for %d products", len(pgSold), len(products))
	}
	replies, errs := s.runEach(ctx, "catch up", catchUpScript, products,
		func(i int) []any { return []any{pgSold[i]} })
	moved := make([]int, len(products))
	for i, v := range replies {
		if v == nil {
			continue
		}
		n, ok := v.(int64)
		if !ok {
			errs = append(errs, fmt.Errorf("catch up: unexpected reply %v", v))
			continue
		}
		moved[i] = int(n)
	}
	return moved, errors.Join(errs...)
}

// CountLostOrder counts an order whose hold Redis lost while the order
// committed (pgSold and bought read after the commit): the shopper's count
// rises to bought plus live holds, and units Redis has not counted move
// from stock to sold. It reports whether it counted the order.
func (s *HoldStore) CountLostOrder(ctx context.Context, o flashsale.Order, pgSold, bought int) (bool, error) {
	ref := flashsale.HoldRef{SaleID: o.SaleID, ProductID: o.ProductID, HoldID: o.HoldID}
	v, err := s.run(ctx, "count lost order", countLostScript, ref,
		pgSold, bought, o.HoldID, o.UserID, o.Qty, o.AmountMinor)
	if err != nil {
		return false, err
	}
	return v == "counted", nil
}

// runEach runs a script on each product in one pipeline: a sweeper with
// thousands of live products pays one round trip per node, not one per
// product. A product whose script failed has a nil reply and its error in
// errs.
func (s *HoldStore) runEach(
	ctx context.Context,
	op string,
	script *redis.Script,
	products []flashsale.HoldRef,
	args func(i int) []any,
) (replies []any, errs []error) {
	cmds := make([]*redis.Cmd, len(products))
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ref := range products {
			cmds[i] = script.EvalSha(ctx, p, keysFor(ref.SaleID, ref.ProductID).all(), args(i)...)
		}
		return nil
	})
	replies = make([]any, len(products))
	for i, ref := range products {
		v, err := cmds[i].Result()
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			// The script cache was flushed; Run sends the script again.
			v, err = script.Run(ctx, s.c, keysFor(ref.SaleID, ref.ProductID).all(),
				args(i)...).Result()
		}
		if err != nil {
			errs = append(errs, scriptError(op, err))
			continue
		}
		replies[i] = v
	}
	return replies, errs
}

// parseSweep decodes {expired count, currency, id, record, id, record, ...}.
func parseSweep(ref flashsale.HoldRef, v any) (flashsale.SweepResult, error) {
	a, ok := v.([]any)
	if !ok || len(a) < 2 || len(a)%2 != 0 {
		return flashsale.SweepResult{}, fmt.Errorf("sweep: unexpected reply %v", v)
	}
	expired, _ := a[0].(int64)
	currency, _ := a[1].(string)
	res := flashsale.SweepResult{Expired: int(expired)}
	for i := 2; i < len(a); i += 2 {
		ref.HoldID, _ = a[i].(string)
		rec, _ := a[i+1].(string)
		h, err := decodeHold(ref, rec, currency)
		if err != nil {
			return flashsale.SweepResult{}, fmt.Errorf("sweep: %w", err)
		}
		res.Stuck = append(res.Stuck, h)
	}
	return res, nil
}

// Counters reads stock and the meta counters in one atomic snapshot.
func (s *HoldStore) Counters(
	ctx context.Context,
	saleID, productID string,
) (flashsale.Counters, error) {
	ref := flashsale.HoldRef{SaleID: saleID, ProductID: productID}
	v, err := s.run(ctx, "counters", countersScript, ref)
	if err != nil {
		return flashsale.Counters{}, err
	}
	a, _ := v.([]any)
	if len(a) == 0 {
		return flashsale.Counters{}, flashsale.Errorf(flashsale.KindNotFound,
			flashsale.ReasonStockNotLoaded, "product %s of sale %s is not loaded",
			productID, saleID)
	}
	n := make([]int, 5)
	if len(a) != len(n) {
		return flashsale.Counters{}, fmt.Errorf("counters: unexpected reply %v", v)
	}
	for i := range n {
		x, ok := a[i].(int64)
		if !ok {
			return flashsale.Counters{}, fmt.Errorf("counters: unexpected reply %v", v)
		}
		n[i] = int(x)
	}
	return flashsale.Counters{
		Available: n[0], Total: n[1], Held: n[2], Sold: n[3], Discarded: n[4],
	}, nil
}

// holdReply is the decoded answer of every script that works on one hold.
type holdReply struct {
	outcome   string
	hold      flashsale.Hold // zero when the script named no hold
	remaining int
	limit     int
}

// runHold runs a one-hold script and decodes its answer:
// {outcome, hold id, hold record, currency, stock left, per-user limit}.
func (s *HoldStore) runHold(
	ctx context.Context,
	op string,
	script *redis.Script,
	ref flashsale.HoldRef,
	args ...any,
) (holdReply, error) {
	v, err := s.run(ctx, op, script, ref, args...)
	if err != nil {
		return holdReply{}, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 6 {
		return holdReply{}, fmt.Errorf("%s: unexpected reply %v", op, v)
	}
	outcome, _ := a[0].(string)
	rec, _ := a[2].(string)
	currency, _ := a[3].(string)
	remaining, _ := a[4].(int64)
	limit, _ := a[5].(int64)
	r := holdReply{outcome: outcome, remaining: int(remaining), limit: int(limit)}
	if rec == "" {
		return r, nil
	}
	// A replayed reserve answers with the first hold, whose id may differ
	// from the one the caller proposed.
	ref.HoldID, _ = a[1].(string)
	r.hold, err = decodeHold(ref, rec, currency)
	if err != nil {
		return holdReply{}, fmt.Errorf("%s: %w", op, err)
	}
	return r, nil
}

// run runs a script on the keys of ref's sale product.
func (s *HoldStore) run(
	ctx context.Context,
	op string,
	script *redis.Script,
	ref flashsale.HoldRef,
	args ...any,
) (any, error) {
	keys := keysFor(ref.SaleID, ref.ProductID).all()
	v, err := script.Run(ctx, s.c, keys, args...).Result()
	if err != nil {
		return nil, scriptError(op, err)
	}
	return v, nil
}

// decodeHold parses a record "state|user|qty|deadline_ms|amount".
func decodeHold(ref flashsale.HoldRef, rec, currency string) (flashsale.Hold, error) {
	f := strings.Split(rec, "|")
	if len(f) != 5 {
		return flashsale.Hold{}, fmt.Errorf("hold %s: corrupt record %q", ref.HoldID, rec)
	}
	qty, err1 := strconv.Atoi(f[2])
	deadline, err2 := strconv.ParseInt(f[3], 10, 64)
	amount, err3 := strconv.ParseInt(f[4], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return flashsale.Hold{}, fmt.Errorf("hold %s: corrupt record: %w", ref.HoldID, err)
	}
	return flashsale.Hold{
		HoldRef:     ref,
		UserID:      f[1],
		Qty:         qty,
		AmountMinor: amount,
		Currency:    currency,
		Deadline:    time.UnixMilli(deadline).UTC(),
		State:       flashsale.HoldState(f[0]),
	}, nil
}

func holdNotFound(ref flashsale.HoldRef) error {
	return flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonReservationNotFound,
		"reservation %s not found", ref.HoldID)
}

// scriptError sorts a failed script run. Redis being unreachable, slow,
// loading, failing over or out of memory is `unavailable`, so the caller fails
// fast; an error reply from the script itself (a Lua error, a wrong key type,
// CROSSSLOT) is a bug and stays a plain error.
func scriptError(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if isReplyBug(err) {
		return err
	}
	return flashsale.Unavailable("redis", err)
}

func isReplyBug(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	transient := redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsOOMError(err) || redis.IsNoReplicasError(err) ||
		redis.IsAuthError(err) || redis.HasErrorPrefix(err, "BUSY")
	return !transient
}
