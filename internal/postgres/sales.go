package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// SaleStore stores sales and their lines.
type SaleStore struct{ db *pgxpool.Pool }

var _ flashsale.SaleStore = (*SaleStore)(nil)

// NewSaleStore returns a sale store on a pool.
func NewSaleStore(db *pgxpool.Pool) *SaleStore { return &SaleStore{db: db} }

// CreateSale inserts the sale and its lines, then runs apply on the stored
// sale before the commit, or returns the stored sale when the id exists.
// Concurrent creates of one id race on the primary key; the loser reads the
// winner's sale.
func (s *SaleStore) CreateSale(
	ctx context.Context,
	sale *flashsale.Sale,
	apply func(*flashsale.Sale) error,
) (*flashsale.Sale, bool, error) {
	var stored *flashsale.Sale
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO flash_sales
			    (sale_id, start_time, end_time, discount_percent, per_user_limit)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (sale_id) DO NOTHING`,
			sale.ID, sale.Start, sale.End, sale.DiscountPercent, sale.PerUserLimit)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errSaleExists
		}
		if err := saleEvent(ctx, tx, flashsale.EventSaleCreated, sale.ID); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, l := range sale.Lines {
			b.Queue(`
				INSERT INTO flash_sale_products (sale_id, product_id, total_qty,
				    original_price, sale_price, currency)
				VALUES ($1, $2, $3, $4, $5, $6)`,
				sale.ID, l.ProductID, l.TotalQty, l.OriginalPriceMinor, l.SalePriceMinor,
				l.Currency)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if stored, err = one(ctx, tx, sale.ID); err != nil {
			return err
		}
		return apply(stored)
	})
	if errors.Is(err, errSaleExists) {
		stored, err := s.Sale(ctx, sale.ID)
		return stored, false, err
	}
	if err != nil {
		return nil, false, translate(err)
	}
	return stored, true, nil
}

var errSaleExists = errors.New("sale exists")

const saleColumns = `sale_id, start_time, end_time, discount_percent, per_user_limit,
	state, created_at`

// Sale returns one sale with its lines.
func (s *SaleStore) Sale(ctx context.Context, id string) (*flashsale.Sale, error) {
	return one(ctx, s.db, id)
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func one(ctx context.Context, q querier, id string) (*flashsale.Sale, error) {
	sales, err := query(ctx, q, `WHERE sale_id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(sales) == 0 {
		return nil, flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonSaleNotFound,
			"sale %s not found", id)
	}
	return sales[0], nil
}

// Sales returns every sale, newest start first.
func (s *SaleStore) Sales(ctx context.Context) ([]*flashsale.Sale, error) {
	return query(ctx, s.db, ``)
}

// query reads sales matching a WHERE clause, then their lines in one query.
func query(ctx context.Context, q querier, where string, args ...any) ([]*flashsale.Sale, error) {
	rows, err := q.Query(ctx, `SELECT `+saleColumns+` FROM flash_sales `+where+
		` ORDER BY start_time DESC, sale_id`, args...)
	if err != nil {
		return nil, translate(err)
	}
	var sales []*flashsale.Sale
	byID := map[string]*flashsale.Sale{}
	var ids []string
	for rows.Next() {
		sale := &flashsale.Sale{}
		if err := rows.Scan(&sale.ID, &sale.Start, &sale.End, &sale.DiscountPercent,
			&sale.PerUserLimit, &sale.State, &sale.CreatedAt); err != nil {
			return nil, translate(err)
		}
		sale.Start, sale.End, sale.CreatedAt = sale.Start.UTC(), sale.End.UTC(), sale.CreatedAt.UTC()
		sales = append(sales, sale)
		byID[sale.ID] = sale
		ids = append(ids, sale.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return sales, attachLines(ctx, q, byID, ids)
}

func attachLines(ctx context.Context, q querier, byID map[string]*flashsale.Sale, ids []string) error {
	rows, err := q.Query(ctx, `
		SELECT l.sale_id, l.product_id, p.name, l.currency, l.total_qty,
		       l.original_price, l.sale_price, l.sold
		FROM flash_sale_products l JOIN products p USING (product_id)
		WHERE l.sale_id = ANY($1)
		ORDER BY l.sale_id, l.product_id`, ids)
	if err != nil {
		return translate(err)
	}
	var saleID string
	var l flashsale.Line
	_, err = pgx.ForEachRow(rows, []any{&saleID, &l.ProductID, &l.Name, &l.Currency,
		&l.TotalQty, &l.OriginalPriceMinor, &l.SalePriceMinor, &l.SoldQty}, func() error {
		sale := byID[saleID]
		sale.Lines = append(sale.Lines, l)
		return nil
	})
	return translate(err)
}

// SetState moves a sale to state to when its state is one of from, writes
// the change's event, and runs apply on the changed sale, all under the
// sale's row lock and before the commit. Admin changes of one sale are so
// applied to Redis in the order PostgreSQL commits them, and a failed apply
// leaves both unchanged. A sale already in state to makes no event, but is
// applied again, which repairs a Redis that missed an earlier change.
func (s *SaleStore) SetState(
	ctx context.Context,
	id string,
	to flashsale.State,
	apply func(*flashsale.Sale) error,
	from ...flashsale.State,
) (*flashsale.Sale, error) {
	var sale *flashsale.Sale
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		was, err := lockSale(ctx, tx, id)
		if err != nil {
			return err
		}
		if was != to {
			if !slices.Contains(from, was) {
				return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonSaleNotActive,
					"sale %s is %s and cannot be %s", id, statusWord(was), verb(to))
			}
			if _, err := tx.Exec(ctx, `UPDATE flash_sales SET state = $2, updated_at = now()
				WHERE sale_id = $1`, id, string(to)); err != nil {
				return err
			}
			if err := saleEvent(ctx, tx, stateEvent(to), id); err != nil {
				return err
			}
		}
		if sale, err = one(ctx, tx, id); err != nil {
			return err
		}
		return apply(sale)
	})
	return sale, translate(err)
}

// Locked runs apply on the sale under its row lock.
func (s *SaleStore) Locked(
	ctx context.Context,
	id string,
	apply func(*flashsale.Sale) error,
) (*flashsale.Sale, error) {
	var sale *flashsale.Sale
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		sales, err := lockForLoad(ctx, tx, `WHERE sale_id = $1`, id)
		if err != nil {
			return err
		}
		if len(sales) == 0 {
			return flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonSaleNotFound,
				"sale %s not found", id)
		}
		sale = sales[0]
		return apply(sale)
	})
	return sale, translate(err)
}

// LockedLive runs apply once on every sale that ends at or after since,
// holding all their locks, in one transaction.
func (s *SaleStore) LockedLive(
	ctx context.Context,
	since time.Time,
	apply func([]*flashsale.Sale) error,
) error {
	return translate(pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		sales, err := lockForLoad(ctx, tx, `WHERE end_time >= $1`, since)
		if err != nil {
			return err
		}
		return apply(sales)
	}))
}

// lockForLoad locks the sales matching where (in id order, so two reloads
// never deadlock) and reads them with each shopper's bought units.
func lockForLoad(ctx context.Context, tx pgx.Tx, where string, args ...any) ([]*flashsale.Sale, error) {
	rows, err := tx.Query(ctx, `SELECT sale_id FROM flash_sales `+where+
		` ORDER BY sale_id FOR UPDATE`, args...)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	// A confirm holds its product row from the sold update to its commit:
	// waiting for it here means the reads below count its order, so a
	// reload never restores stock or a shopper's units from before it.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM flash_sale_products WHERE sale_id = ANY($1)
		FOR SHARE`, ids); err != nil {
		return nil, err
	}
	sales, err := query(ctx, tx, `WHERE sale_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	return sales, attachBought(ctx, tx, sales)
}

// attachBought fills each line's per-user bought units from the orders.
func attachBought(ctx context.Context, tx pgx.Tx, sales []*flashsale.Sale) error {
	ids := make([]string, len(sales))
	for i, sale := range sales {
		ids[i] = sale.ID
	}
	rows, err := tx.Query(ctx, `
		SELECT sale_id, product_id, user_id, sum(quantity) FROM orders
		WHERE sale_id = ANY($1) GROUP BY sale_id, product_id, user_id`, ids)
	if err != nil {
		return err
	}
	type line struct{ sale, product string }
	bought := map[line]map[string]int{}
	var l line
	var user string
	var units int
	_, err = pgx.ForEachRow(rows, []any{&l.sale, &l.product, &user, &units}, func() error {
		if bought[l] == nil {
			bought[l] = map[string]int{}
		}
		bought[l][user] = units
		return nil
	})
	for _, sale := range sales {
		for i := range sale.Lines {
			sale.Lines[i].Bought = bought[line{sale.ID, sale.Lines[i].ProductID}]
		}
	}
	return err
}

// lockSale takes the sale's row lock for the transaction and returns its state.
func lockSale(ctx context.Context, tx pgx.Tx, id string) (flashsale.State, error) {
	var state flashsale.State
	err := tx.QueryRow(ctx, `SELECT state FROM flash_sales WHERE sale_id = $1 FOR UPDATE`,
		id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", flashsale.Errorf(flashsale.KindNotFound, flashsale.ReasonSaleNotFound,
			"sale %s not found", id)
	}
	return state, err
}

// statusWord names an admin state in the words clients see.
func statusWord(s flashsale.State) string {
	if s == flashsale.StateEnded {
		return "ENDED"
	}
	if s == flashsale.StatePaused {
		return "PAUSED"
	}
	return "not paused"
}

func verb(to flashsale.State) string {
	switch to {
	case flashsale.StatePaused:
		return "paused"
	case flashsale.StateEnded:
		return "ended"
	}
	return "resumed"
}

// stateEvent names the event of a move to state to: scheduled is only ever
// reached from paused, by a resume.
func stateEvent(to flashsale.State) flashsale.EventType {
	switch to {
	case flashsale.StatePaused:
		return flashsale.EventSalePaused
	case flashsale.StateEnded:
		return flashsale.EventSaleEnded
	}
	return flashsale.EventSaleResumed
}

func states(ss []flashsale.State) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// Reschedule moves the window of a sale that has not started at now and
// runs apply on the moved sale before the commit, under the row lock.
func (s *SaleStore) Reschedule(
	ctx context.Context,
	id string,
	start, end, now time.Time,
	apply func(*flashsale.Sale) error,
) (*flashsale.Sale, error) {
	var sale *flashsale.Sale
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := lockSale(ctx, tx, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE flash_sales SET start_time = $2, end_time = $3, updated_at = now()
			WHERE sale_id = $1 AND start_time > $4 AND state <> 'ended'`, id, start, end, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonSaleNotUpcoming,
				"sale %s has started or ended; only upcoming sales can be rescheduled", id)
		}
		if sale, err = one(ctx, tx, id); err != nil {
			return err
		}
		return apply(sale)
	})
	return sale, translate(err)
}
