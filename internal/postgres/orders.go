package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// OrderStore stores orders and their outbox events.
type OrderStore struct{ db *pgxpool.Pool }

var _ flashsale.Orders = (*OrderStore)(nil)

// NewOrderStore returns an order store on a pool.
func NewOrderStore(db *pgxpool.Pool) *OrderStore { return &OrderStore{db: db} }

var (
	errGuard     = errors.New("sold guard refused")
	errUserLimit = errors.New("per-user limit guard refused")
)

// Place writes the order, its outbox event and the sold count in one
// transaction, refusing an order beyond the total or the per-user limit.
// The guarded UPDATE runs near the end so the product row stays locked only
// for the limit check and the commit.
func (s *OrderStore) Place(ctx context.Context, o flashsale.Order) (flashsale.Order, error) {
	event, err := confirmedEvent(o)
	if err != nil {
		return flashsale.Order{}, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO hold_outcomes (reservation_id, outcome) VALUES ($1, 'CONFIRMED')`,
			o.HoldID)
		b.Queue(`INSERT INTO payment_outcomes (payment_id, reservation_id, outcome)
			VALUES ($1, $2, 'ORDER')`, o.PaymentID, o.HoldID)
		b.Queue(`
			INSERT INTO orders (order_id, user_id, sale_id, product_id, quantity, amount,
			    currency, reservation_id, payment_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			o.ID, o.UserID, o.SaleID, o.ProductID, o.Qty, o.AmountMinor, o.Currency,
			o.HoldID, o.PaymentID)
		b.Queue(`
			INSERT INTO outbox (event_id, event_type, sale_id, payload)
			VALUES ($1, $2, $3, $4)`, event.id, flashsale.EventConfirmed, o.SaleID,
			string(event.payload))
		guard := b.Queue(`
			UPDATE flash_sale_products SET sold = sold + $3
			WHERE sale_id = $1 AND product_id = $2 AND sold + $3 <= total_qty`,
			o.SaleID, o.ProductID, o.Qty)
		guard.Exec(func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() == 0 {
				return errGuard
			}
			return nil
		})
		// The per-user limit, checked after the update above has locked the
		// product row, so concurrent confirms of the product count each
		// other's orders. Redis enforces the limit first; this holds it even
		// when Redis lost count (a reload racing a confirm).
		b.Queue(`
			SELECT coalesce(sum(o.quantity), 0) <= f.per_user_limit
			FROM flash_sales f
			LEFT JOIN orders o ON o.sale_id = f.sale_id AND o.product_id = $2 AND o.user_id = $3
			WHERE f.sale_id = $1
			GROUP BY f.per_user_limit`, o.SaleID, o.ProductID, o.UserID).QueryRow(
			func(row pgx.Row) error {
				var within bool
				if err := row.Scan(&within); err != nil {
					return err
				}
				if !within {
					return errUserLimit
				}
				return nil
			})
		return tx.SendBatch(ctx, b).Close()
	})
	switch {
	case err == nil:
		return o, nil
	case errors.Is(err, errGuard):
		return flashsale.Order{}, flashsale.Errorf(flashsale.KindExhausted,
			flashsale.ReasonSoldOut, "product %s of sale %s is sold out", o.ProductID, o.SaleID)
	case errors.Is(err, errUserLimit):
		return flashsale.Order{}, flashsale.Errorf(flashsale.KindExhausted,
			flashsale.ReasonLimitReached,
			"shopper %s already bought the per-user limit of %s; the payment will be refunded",
			o.UserID, o.ProductID)
	case isUniqueViolation(err, ""):
		return s.existing(ctx, o)
	}
	return flashsale.Order{}, translate(err)
}

// existing resolves a unique violation: the sweeper aborted the hold, or
// the hold's order exists (a retried or concurrent confirm), or the payment
// was used for another order.
func (s *OrderStore) existing(ctx context.Context, o flashsale.Order) (flashsale.Order, error) {
	prior, found, err := s.ByHold(ctx, o.HoldID)
	var outcome string
	if err == nil && !found {
		err = s.db.QueryRow(ctx, `SELECT outcome FROM hold_outcomes WHERE reservation_id = $1`,
			o.HoldID).Scan(&outcome)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	switch {
	case err != nil:
		return flashsale.Order{}, translate(err)
	case outcome == "ABORTED":
		return flashsale.Order{}, flashsale.Errorf(flashsale.KindPrecondition,
			flashsale.ReasonReservationExpired,
			"reservation %s expired before its payment was confirmed", o.HoldID)
	case found && prior.PaymentID == o.PaymentID:
		return prior, nil
	case found:
		return flashsale.Order{}, flashsale.Errorf(flashsale.KindConflict,
			flashsale.ReasonAlreadyConfirmed,
			"reservation %s was confirmed with another payment", o.HoldID)
	}
	return flashsale.Order{}, s.paymentUsed(ctx, o.PaymentID)
}

// paymentUsed explains why a payment cannot pay for another hold.
func (s *OrderStore) paymentUsed(ctx context.Context, paymentID string) error {
	b, _, err := s.PaymentBinding(ctx, paymentID)
	if err != nil {
		return err
	}
	if b.Refund {
		return flashsale.Errorf(flashsale.KindConflict, flashsale.ReasonPaymentUsed,
			"payment %s is being refunded for another reservation", paymentID)
	}
	return flashsale.Errorf(flashsale.KindConflict, flashsale.ReasonPaymentUsed,
		"payment %s already paid for another order", paymentID)
}

// Abort records that a hold will never have an order, unless its order
// committed first; aborted is false then. Concurrent with Place, exactly one
// of the two wins.
func (s *OrderStore) Abort(ctx context.Context, holdID string) (bool, error) {
	tag, err := s.db.Exec(ctx, `
		INSERT INTO hold_outcomes (reservation_id, outcome) VALUES ($1, 'ABORTED')
		ON CONFLICT (reservation_id) DO NOTHING`, holdID)
	if err != nil {
		return false, translate(err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var outcome string
	err = s.db.QueryRow(ctx, `SELECT outcome FROM hold_outcomes WHERE reservation_id = $1`,
		holdID).Scan(&outcome)
	return outcome == "ABORTED", translate(err)
}

// Aborted reports whether the sweeper decided the hold gets no order.
func (s *OrderStore) Aborted(ctx context.Context, holdID string) (bool, error) {
	var aborted bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hold_outcomes
		WHERE reservation_id = $1 AND outcome = 'ABORTED')`, holdID).Scan(&aborted)
	return aborted, translate(err)
}

// Sold returns the sold count of each sale product, in the order given.
func (s *OrderStore) Sold(ctx context.Context, products []flashsale.HoldRef) ([]int, error) {
	sales := make([]string, len(products))
	ids := make([]string, len(products))
	for i, p := range products {
		sales[i], ids[i] = p.SaleID, p.ProductID
	}
	rows, err := s.db.Query(ctx, `
		SELECT coalesce(fp.sold, 0)
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(sale_id, product_id, n)
		LEFT JOIN flash_sale_products fp USING (sale_id, product_id)
		ORDER BY p.n`, sales, ids)
	if err != nil {
		return nil, translate(err)
	}
	sold, err := pgx.CollectRows(rows, pgx.RowTo[int])
	return sold, translate(err)
}

// Bought returns a shopper's units in the orders of a sale product.
func (s *OrderStore) Bought(ctx context.Context, ref flashsale.HoldRef, userID string) (int, error) {
	var units int
	err := s.db.QueryRow(ctx, `SELECT coalesce(sum(quantity), 0) FROM orders
		WHERE sale_id = $1 AND product_id = $2 AND user_id = $3`,
		ref.SaleID, ref.ProductID, userID).Scan(&units)
	return units, translate(err)
}

// ByHold returns the order of a hold.
func (s *OrderStore) ByHold(ctx context.Context, holdID string) (flashsale.Order, bool, error) {
	return s.orderWhere(ctx, "reservation_id", holdID)
}

// PaymentBinding returns the hold a payment paid for or is owed back for.
func (s *OrderStore) PaymentBinding(ctx context.Context, paymentID string) (flashsale.PaymentBinding, bool, error) {
	var b flashsale.PaymentBinding
	err := s.db.QueryRow(ctx, `
		SELECT reservation_id, outcome = 'REFUND' FROM payment_outcomes WHERE payment_id = $1`,
		paymentID).Scan(&b.HoldID, &b.Refund)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, false, nil
	}
	return b, err == nil, translate(err)
}

// OweRefund binds the payment to the hold as owed back and writes the
// refund_required event, in one transaction.
func (s *OrderStore) OweRefund(ctx context.Context, e flashsale.Event, paymentID string) error {
	payload, id, err := oneOffEvent(e, paymentID)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var holdID, outcome string
		err := tx.QueryRow(ctx, `
			INSERT INTO payment_outcomes (payment_id, reservation_id, outcome)
			VALUES ($1, $2, 'REFUND')
			ON CONFLICT (payment_id) DO UPDATE SET payment_id = EXCLUDED.payment_id
			RETURNING reservation_id, outcome`, paymentID, e.HoldID).Scan(&holdID, &outcome)
		switch {
		case err != nil:
			return err
		case holdID != e.HoldID:
			return errPaymentBound
		case outcome != "REFUND":
			return errPaymentBought
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO outbox (event_id, event_type, sale_id, payload) VALUES ($1, $2, $3, $4)
			ON CONFLICT (event_id) DO NOTHING`, id, string(e.Type), e.SaleID, payload)
		return err
	})
	switch {
	case errors.Is(err, errPaymentBound):
		return s.paymentUsed(ctx, paymentID)
	case errors.Is(err, errPaymentBought):
		return flashsale.Errorf(flashsale.KindConflict, flashsale.ReasonAlreadyConfirmed,
			"reservation %s was bought with payment %s", e.HoldID, paymentID)
	}
	return translate(err)
}

var (
	errPaymentBound  = errors.New("payment bound to another hold")
	errPaymentBought = errors.New("payment bought the hold's order")
)

// orderWhere reads the order whose unique column equals value.
func (s *OrderStore) orderWhere(ctx context.Context, column, value string) (flashsale.Order, bool, error) {
	var o flashsale.Order
	err := s.db.QueryRow(ctx, `
		SELECT order_id, user_id, sale_id, product_id, reservation_id, payment_id,
		       quantity, amount, currency, created_at
		FROM orders WHERE `+column+` = $1`, value).Scan(
		&o.ID, &o.UserID, &o.SaleID, &o.ProductID, &o.HoldID, &o.PaymentID,
		&o.Qty, &o.AmountMinor, &o.Currency, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, translate(err)
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return o, true, nil
}

type outboxEvent struct {
	id      string
	payload []byte
}

// confirmedEvent builds the order's event; its id is fixed here, once, so a
// redelivery carries the same id.
func confirmedEvent(o flashsale.Order) (outboxEvent, error) {
	id := "ev_" + ulid.MustNew(ulid.Now(), rand.Reader).String()
	payload, err := json.Marshal(map[string]any{
		"event_id":   id,
		"type":       flashsale.EventConfirmed,
		"sale_id":    o.SaleID,
		"product_id": o.ProductID,
		"user_id":    o.UserID,
		"hold_id":    o.HoldID,
		"order_id":   o.ID,
		"quantity":   o.Qty,
		"amount":     o.AmountMinor,
		"currency":   o.Currency,
	})
	return outboxEvent{id: id, payload: payload}, err
}
