package inventory

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// Confirm turns a paid hold into an order. It verifies that the payment paid
// exactly the hold's amount, moves the hold to CONFIRMING in Redis, writes
// the order in PostgreSQL and then marks the hold CONFIRMED. A crash between
// the last two steps leaves a CONFIRMING hold that the sweeper finishes (the
// order exists) or releases (it does not). Retries and concurrent calls with
// the same payment answer with the same order; another payment meanwhile is
// refused as in progress. A paid payment that cannot buy the hold (released,
// expired, refused by PostgreSQL's checks, or a second one for a bought
// hold) is recorded as owed back.
func (s *Service) Confirm(ctx context.Context, userID, saleID, holdID, paymentID string) (flashsale.Order, error) {
	if err := s.ration(ctx, "confirm", userID); err != nil {
		return flashsale.Order{}, err
	}
	r, err := ref(saleID, holdID)
	if err != nil {
		return flashsale.Order{}, err
	}
	h, err := s.owned(ctx, r, userID)
	if flashsale.ErrorKind(err) == flashsale.KindNotFound {
		return s.confirmLost(ctx, r, userID, paymentID, err)
	}
	if err != nil {
		return flashsale.Order{}, err
	}
	if h.State == flashsale.HoldConfirmed {
		return s.existingOrder(ctx, h, paymentID)
	}
	if err := s.verifyPayment(ctx, h, paymentID); err != nil {
		return flashsale.Order{}, err
	}
	if h.State == flashsale.HoldReleased {
		return flashsale.Order{}, s.refuseReleased(ctx, h, paymentID)
	}
	// A payment bound to another hold (it paid for it, or is owed back for
	// it) would be refused by the database only after this hold moved to
	// CONFIRMING; refuse it while the hold is free. A payment already owed
	// back for this hold gets the same answer again: taking units for it
	// now would sell them for money that is being returned.
	b, found, err := s.orders.PaymentBinding(ctx, paymentID)
	switch {
	case err != nil:
		return flashsale.Order{}, err
	case found && b.HoldID != holdID:
		return flashsale.Order{}, flashsale.Errorf(flashsale.KindConflict,
			flashsale.ReasonPaymentUsed, "payment %s was used for another reservation", paymentID)
	case found && b.Refund:
		return flashsale.Order{}, beingRefunded(holdID, paymentID)
	}
	// An expired hold may be taken again for a late payment, unless the
	// sweeper aborted its confirm: PostgreSQL would refuse its order, so
	// taking units for it would only keep them from other shoppers.
	if h.State == flashsale.HoldExpired {
		if aborted, err := s.orders.Aborted(ctx, holdID); err != nil {
			return flashsale.Order{}, err
		} else if aborted {
			return flashsale.Order{}, s.refuseExpired(ctx, h, paymentID)
		}
	}
	return s.place(ctx, r, userID, paymentID)
}

// confirmLost answers a confirm of a hold that Redis does not have. Redis
// may have lost a hold whose order had committed: a retry still gets its
// order. Otherwise the confirm is refused as not found, and a payment that
// went through for it is owed back.
func (s *Service) confirmLost(ctx context.Context, r flashsale.HoldRef, userID, paymentID string, notFound error) (flashsale.Order, error) {
	o, found, err := s.lostHoldOrder(ctx, r, userID)
	switch {
	case err != nil:
		return flashsale.Order{}, err
	case found:
		return s.existingOrder(ctx, holdOf(o), paymentID)
	}
	return flashsale.Order{}, s.refuseLost(ctx, r, userID, paymentID, notFound)
}

func beingRefunded(holdID, paymentID string) error {
	return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonReservationExpired,
		"reservation %s can no longer be confirmed; payment %s is being refunded",
		holdID, paymentID)
}

// refuseLost answers a confirm of a hold that Redis does not have and that
// has no order: unknown, or lost with Redis's data. A payment that went
// through for it is owed back, since no hold will ever take it; notFound is
// the answer either way. A payment made for another reservation is left
// alone: the id was mistyped, and the payment still buys its own hold.
func (s *Service) refuseLost(ctx context.Context, r flashsale.HoldRef, userID, paymentID string, notFound error) error {
	p, err := s.payments.Payment(ctx, paymentID)
	if err != nil || p.Status != flashsale.PaymentPaid ||
		(p.Reference != "" && p.Reference != r.HoldID) {
		return notFound
	}
	// The hold's quantity went with it; the refund is of the payment.
	lost := flashsale.Hold{HoldRef: r, UserID: userID, AmountMinor: p.AmountMinor,
		Currency: p.Currency}
	err = s.recordRefund(ctx, lost, paymentID, "reservation_not_found")
	switch {
	case err == nil:
		return flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonReservationNotFound,
			"reservation %s not found; payment %s will be refunded", r.HoldID, paymentID)
	case flashsale.ErrorKind(err) == flashsale.KindConflict:
		return notFound // it serves another hold: not owed back
	}
	return err
}

// lostHoldOrder finds the order of a hold that Redis no longer has, when it
// is the caller's and of this sale.
func (s *Service) lostHoldOrder(ctx context.Context, r flashsale.HoldRef, userID string) (flashsale.Order, bool, error) {
	o, found, err := s.orders.ByHold(ctx, r.HoldID)
	if err != nil || !found || o.UserID != userID || o.SaleID != r.SaleID {
		return flashsale.Order{}, false, err
	}
	return o, true, nil
}

// holdOf rebuilds the confirmed hold of an order.
func holdOf(o flashsale.Order) flashsale.Hold {
	return flashsale.Hold{HoldRef: flashsale.HoldRef{SaleID: o.SaleID, ProductID: o.ProductID,
		HoldID: o.HoldID}, UserID: o.UserID, Qty: o.Qty, AmountMinor: o.AmountMinor,
		Currency: o.Currency, State: flashsale.HoldConfirmed}
}

// place runs the Redis and PostgreSQL steps of a confirm.
func (s *Service) place(ctx context.Context, r flashsale.HoldRef, userID, paymentID string) (flashsale.Order, error) {
	if s.beforeBegin != nil {
		s.beforeBegin(r)
	}
	result, h, err := s.holds.BeginConfirm(ctx, r, paymentID, s.cfg.Grace)
	if flashsale.ErrorKind(err) == flashsale.KindNotFound {
		// Redis lost the hold since it was read: while it reloads the
		// answer is unavailable, as it is for a hold it never had.
		if rerr := s.reloading(ctx); rerr != nil {
			return flashsale.Order{}, rerr
		}
		return s.confirmLost(ctx, r, userID, paymentID, err)
	}
	if err != nil {
		return flashsale.Order{}, err
	}
	switch result {
	case flashsale.AlreadyConfirmed:
		return s.existingOrder(ctx, h, paymentID)
	case flashsale.WasReleased:
		return flashsale.Order{}, s.refuseReleased(ctx, h, paymentID)
	case flashsale.ConfirmBusy:
		return flashsale.Order{}, flashsale.Errorf(flashsale.KindConflict,
			flashsale.ReasonConfirmInProgress,
			"reservation %s is being confirmed with another payment; try again shortly", r.HoldID)
	case flashsale.WasExpired:
		return flashsale.Order{}, s.refuseExpired(ctx, h, paymentID)
	}

	if s.beforeOrder != nil {
		s.beforeOrder(r)
	}
	order, err := s.orders.Place(ctx, flashsale.Order{
		ID: newID("o_"), UserID: h.UserID, SaleID: r.SaleID, ProductID: r.ProductID,
		HoldID: r.HoldID, PaymentID: paymentID, Qty: h.Qty, AmountMinor: h.AmountMinor,
		Currency: h.Currency,
	})
	switch flashsale.ErrorReason(err) {
	case flashsale.ReasonSoldOut:
		return flashsale.Order{}, s.refused(ctx, h, paymentID, err)
	case flashsale.ReasonLimitReached:
		// Redis lost count of the shopper's orders (a reload raced a
		// confirm): the units go back to stock.
		return flashsale.Order{}, s.refusedByDatabase(ctx, h, paymentID, "limit_reached", true, err)
	case flashsale.ReasonReservationExpired:
		// The sweeper aborted the hold while the payment was on its way.
		if err := s.recordRefund(ctx, h, paymentID, "reservation_expired"); err != nil {
			return flashsale.Order{}, err
		}
		return flashsale.Order{}, err
	case flashsale.ReasonPaymentUsed:
		// Another confirm bound the payment first; the hold itself is good,
		// so it goes back to HELD for a payment of its own. No other payment
		// can be confirming it meanwhile (begin refuses them as busy).
		if uerr := s.holds.UndoConfirm(ctx, r, paymentID); uerr != nil {
			s.log.WarnContext(ctx, "undo of refused confirm deferred to sweeper",
				"hold_id", r.HoldID, "err", uerr.Error())
		}
		// A concurrent confirm with this payment found the hold expired and
		// owes the payment back: say so, as a retry would.
		if b, found, berr := s.orders.PaymentBinding(ctx, paymentID); berr == nil && found &&
			b.HoldID == r.HoldID && b.Refund {
			return flashsale.Order{}, beingRefunded(r.HoldID, paymentID)
		}
		return flashsale.Order{}, err
	case flashsale.ReasonAlreadyConfirmed:
		// A confirm with another payment won the race for this hold.
		if rerr := s.refundSecondPayment(ctx, h, paymentID); rerr != nil {
			return flashsale.Order{}, rerr
		}
		return flashsale.Order{}, err
	}
	if err != nil {
		// The hold stays CONFIRMING: a retry writes the order, or the
		// sweeper releases the hold after the grace period.
		return flashsale.Order{}, err
	}
	if s.afterOrder != nil {
		if err := s.afterOrder(r); err != nil {
			return flashsale.Order{}, err
		}
	}
	err = s.holds.FinishConfirm(ctx, r)
	if flashsale.ErrorKind(err) == flashsale.KindNotFound {
		err = s.countLostOrder(ctx, order)
	}
	if err != nil {
		// The order is committed, so the shopper has it; the sweeper marks
		// the hold CONFIRMED once Redis answers again.
		s.log.WarnContext(ctx, "confirm mark deferred to sweeper",
			"sale_id", r.SaleID, "hold_id", r.HoldID, "err", err.Error())
	}
	return order, nil
}

// countLostOrder counts in Redis an order whose hold Redis lost while it
// committed: when the reload's snapshot came before the order, the
// shopper's count would otherwise stay below their orders (the sweeper's
// catch-up fixes the stock, not the count).
func (s *Service) countLostOrder(ctx context.Context, o flashsale.Order) error {
	ref := flashsale.HoldRef{SaleID: o.SaleID, ProductID: o.ProductID}
	sold, err := s.orders.Sold(ctx, []flashsale.HoldRef{ref})
	if err != nil {
		return err
	}
	bought, err := s.orders.Bought(ctx, ref, o.UserID)
	if err != nil {
		return err
	}
	counted, err := s.holds.CountLostOrder(ctx, o, sold[0], bought)
	if counted {
		s.log.InfoContext(ctx, "order counted after redis lost its hold",
			"sale_id", o.SaleID, "hold_id", o.HoldID, "qty", o.Qty)
	}
	return err
}

// refused handles PostgreSQL's oversell guard: Redis had stock the truth did
// not. The hold is discarded without returning its units to Redis.
func (s *Service) refused(ctx context.Context, h flashsale.Hold, paymentID string, cause error) error {
	s.guardRefusals.Add(1)
	s.log.ErrorContext(ctx, "oversell refused by database guard",
		"sale_id", h.SaleID, "product_id", h.ProductID, "hold_id", h.HoldID,
		"refusals", s.guardRefusals.Load())
	return s.refusedByDatabase(ctx, h, paymentID, "sold_out", false, cause)
}

// refusedByDatabase ends a CONFIRMING hold whose order PostgreSQL refused:
// the payment, verified as paid, is owed back, and the hold's units go back
// to stock or, when Redis had them beyond the truth, are discarded. It
// answers cause.
func (s *Service) refusedByDatabase(
	ctx context.Context,
	h flashsale.Hold,
	paymentID, reason string,
	returnUnits bool,
	cause error,
) error {
	if err := s.recordRefund(ctx, h, paymentID, reason); err != nil {
		return err
	}
	if err := s.holds.AbortConfirm(ctx, h.HoldRef, returnUnits); err != nil {
		s.log.WarnContext(ctx, "end of refused hold deferred to sweeper",
			"hold_id", h.HoldID, "err", err.Error())
	}
	return cause
}

func (s *Service) existingOrder(ctx context.Context, h flashsale.Hold, paymentID string) (flashsale.Order, error) {
	o, found, err := s.orders.ByHold(ctx, h.HoldID)
	switch {
	case err != nil:
		return o, err
	case !found:
		return o, errors.New("confirmed hold " + h.HoldID + " has no order")
	case o.PaymentID != paymentID:
		if err := s.refundSecondPayment(ctx, h, paymentID); err != nil {
			return flashsale.Order{}, err
		}
		return flashsale.Order{}, flashsale.Errorf(flashsale.KindConflict,
			flashsale.ReasonAlreadyConfirmed,
			"reservation %s was confirmed with another payment", h.HoldID)
	}
	return o, nil
}

// refundSecondPayment owes back a payment that arrived for a hold another
// payment already bought, when it went through for the hold's amount. One
// that paid for another order is left alone: it is not owed back.
func (s *Service) refundSecondPayment(ctx context.Context, h flashsale.Hold, paymentID string) error {
	if s.verifyPayment(ctx, h, paymentID) != nil {
		return nil
	}
	err := s.recordRefund(ctx, h, paymentID, "already_confirmed")
	if flashsale.ErrorReason(err) == flashsale.ReasonPaymentUsed {
		return nil
	}
	return err
}

// verifyPayment checks that the payment went through for exactly the hold's
// amount and currency. A declined payment leaves the hold as it is.
func (s *Service) verifyPayment(ctx context.Context, h flashsale.Hold, paymentID string) error {
	p, err := s.payments.Payment(ctx, paymentID)
	if err != nil {
		return err
	}
	if p.Reference != "" && p.Reference != h.HoldID {
		return paidForOther(paymentID, p.Reference)
	}
	if p.Status != flashsale.PaymentPaid {
		// When the record fails the caller gets the error, not the answer,
		// so that its retry records the event.
		if err := s.orders.RecordEvent(ctx, holdEvent(flashsale.EventPaymentDecline, h,
			"payment_declined"), paymentID); err != nil {
			return err
		}
		return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonPaymentDeclined,
			"payment %s was declined", paymentID)
	}
	if p.AmountMinor != h.AmountMinor || p.Currency != h.Currency {
		return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonPaymentMismatch,
			"payment %s paid %d %s, the reservation costs %d %s",
			paymentID, p.AmountMinor, p.Currency, h.AmountMinor, h.Currency)
	}
	return nil
}

func paidForOther(paymentID, reference string) error {
	return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonPaymentForOther,
		"payment %s was made for reservation %s", paymentID, reference)
}

// refuseExpired answers a paid confirm of an expired hold that cannot be
// taken again: the payment is owed back.
func (s *Service) refuseExpired(ctx context.Context, h flashsale.Hold, paymentID string) error {
	if err := s.recordRefund(ctx, h, paymentID, "reservation_expired"); err != nil {
		return err
	}
	return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonReservationExpired,
		"reservation %s expired and its units are gone; the payment will be refunded", h.HoldID)
}

// refuseReleased answers a paid confirm of a released hold: the units are
// gone, so the payment is owed back, like a payment that came too late.
func (s *Service) refuseReleased(ctx context.Context, h flashsale.Hold, paymentID string) error {
	if err := s.recordRefund(ctx, h, paymentID, "reservation_released"); err != nil {
		return err
	}
	return released(h.HoldID)
}

// recordRefund records that a payment arrived for a hold that can no
// longer be confirmed, so the shopper is refunded. When that fails the
// caller gets the error, not the answer, so that its retry records it: a
// refund owed is never lost silently. A payment that already paid for
// another hold is not owed back; the caller gets payment_used instead.
func (s *Service) recordRefund(ctx context.Context, h flashsale.Hold, paymentID, reason string) error {
	if err := s.orders.OweRefund(ctx, holdEvent(flashsale.EventRefundRequired, h, reason),
		paymentID); err != nil {
		return err
	}
	s.log.WarnContext(ctx, "paid confirm refused, refund required",
		"sale_id", h.SaleID, "hold_id", h.HoldID, "payment_id", paymentID, "reason", reason)
	return nil
}

// holdEvent is the event of a hold's payment that changes no hold: a
// declined payment, a refund owed.
func holdEvent(kind flashsale.EventType, h flashsale.Hold, reason string) flashsale.Event {
	return flashsale.Event{Type: kind, SaleID: h.SaleID, ProductID: h.ProductID,
		UserID: h.UserID, HoldID: h.HoldID, Qty: h.Qty, AmountMinor: h.AmountMinor,
		Reason: reason, At: time.Now()}
}

func released(holdID string) error {
	return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonAlreadyReleased,
		"reservation %s was released", holdID)
}

// SweepResult counts one sweep.
type SweepResult struct {
	Expired   int // HELD holds past their deadline, units returned
	Finalized int // stuck CONFIRMING holds whose order exists
	Aborted   int // stuck CONFIRMING holds without an order, units returned
	CaughtUp  int // units of orders Redis had lost, taken from stock
}

// Sweep reclaims expired holds of every product of the sales given and
// resolves confirms that crashed between PostgreSQL and Redis.
func (s *Service) Sweep(ctx context.Context, sales []*flashsale.Sale) (SweepResult, error) {
	var products []flashsale.HoldRef
	for _, sale := range sales {
		for _, l := range sale.Lines {
			products = append(products, flashsale.HoldRef{SaleID: sale.ID, ProductID: l.ProductID})
		}
	}
	var total SweepResult
	var errs []error
	for batch := range slices.Chunk(products, sweepPipeline) {
		results, err := s.holds.Sweep(ctx, batch, sweepBatch)
		errs = append(errs, err)
		for _, r := range results {
			total.Expired += r.Expired
			for _, h := range r.Stuck {
				errs = append(errs, s.resolveStuck(ctx, h, &total))
			}
		}
		errs = append(errs, s.catchUp(ctx, batch, &total))
	}
	return total, errors.Join(errs...)
}

// catchUp counts in Redis the orders whose holds Redis lost: after a reload
// that raced their confirms, Redis would otherwise offer their units again,
// for shoppers whom PostgreSQL would then refuse after they paid.
func (s *Service) catchUp(ctx context.Context, products []flashsale.HoldRef, total *SweepResult) error {
	sold, err := s.orders.Sold(ctx, products)
	if err != nil {
		return err
	}
	moved, err := s.holds.CatchUp(ctx, products, sold)
	for i, n := range moved {
		if n > 0 {
			total.CaughtUp += n
			s.log.WarnContext(ctx, "orders unknown to redis counted as sold",
				"sale_id", products[i].SaleID, "product_id", products[i].ProductID, "units", n)
		}
	}
	return err
}

// sweepBatch bounds the holds one product's sweep reclaims, and
// sweepPipeline the products swept in one round trip.
const (
	sweepBatch    = 500
	sweepPipeline = 100
)

// resolveStuck finishes a confirm that crashed between PostgreSQL and Redis:
// CONFIRMED when its order exists, else EXPIRED with its units back.
// PostgreSQL decides, so a confirm still running cannot also win.
func (s *Service) resolveStuck(ctx context.Context, h flashsale.Hold, total *SweepResult) error {
	aborted, err := s.orders.Abort(ctx, h.HoldID)
	if err != nil {
		return err
	}
	if aborted {
		total.Aborted++
		return s.holds.AbortConfirm(ctx, h.HoldRef, true)
	}
	total.Finalized++
	return s.holds.FinishConfirm(ctx, h.HoldRef)
}

// Sweepable keeps the sales whose holds may still need sweeping: those that
// have not ended, or ended recently enough for holds to be outstanding.
func (s *Service) Sweepable(sales []*flashsale.Sale, now time.Time) []*flashsale.Sale {
	horizon := now.Add(-(s.cfg.TTL + s.cfg.Grace + time.Minute))
	var keep []*flashsale.Sale
	for _, sale := range sales {
		if sale.End.After(horizon) {
			keep = append(keep, sale)
		}
	}
	return keep
}
