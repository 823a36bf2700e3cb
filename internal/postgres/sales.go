package postgres

import (
	"context"
	"errors"
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

// CreateSale inserts the sale and its lines, or returns the stored sale when
// the id exists. Concurrent creates of one id race on the primary key; the
// loser reads the winner's sale.
func (s *SaleStore) CreateSale(
	ctx context.Context,
	sale *flashsale.Sale,
) (*flashsale.Sale, bool, error) {
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
		return tx.SendBatch(ctx, b).Close()
	})
	if errors.Is(err, errSaleExists) {
		stored, err := s.Sale(ctx, sale.ID)
		return stored, false, err
	}
	if err != nil {
		return nil, false, translate(err)
	}
	stored, err := s.Sale(ctx, sale.ID)
	return stored, true, err
}

var errSaleExists = errors.New("sale exists")

const saleColumns = `sale_id, start_time, end_time, discount_percent, per_user_limit,
	state, created_at`

// Sale returns one sale with its lines.
func (s *SaleStore) Sale(ctx context.Context, id string) (*flashsale.Sale, error) {
	sales, err := s.query(ctx, `WHERE sale_id = $1`, id)
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
	return s.query(ctx, ``)
}

// query reads sales matching a WHERE clause, then their lines in one query.
func (s *SaleStore) query(ctx context.Context, where string, args ...any) ([]*flashsale.Sale, error) {
	rows, err := s.db.Query(ctx, `SELECT `+saleColumns+` FROM flash_sales `+where+
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
	return sales, s.attachLines(ctx, byID, ids)
}

func (s *SaleStore) attachLines(ctx context.Context, byID map[string]*flashsale.Sale, ids []string) error {
	rows, err := s.db.Query(ctx, `
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

// SetState moves a sale to state to when its state is one of from, and
// writes the change's event in the same transaction. A sale already in
// state to changes nothing and makes no event.
func (s *SaleStore) SetState(
	ctx context.Context,
	id string,
	to flashsale.State,
	from ...flashsale.State,
) (*flashsale.Sale, error) {
	var changed bool
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var was flashsale.State
		err := tx.QueryRow(ctx, `
			UPDATE flash_sales AS f SET state = $2, updated_at = now()
			FROM (SELECT sale_id, state FROM flash_sales WHERE sale_id = $1 FOR UPDATE) AS old
			WHERE f.sale_id = old.sale_id AND old.state = ANY($3)
			RETURNING old.state`, id, string(to), states(from)).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && was == to {
			return nil
		}
		if err != nil {
			return err
		}
		changed = true
		return saleEvent(ctx, tx, stateEvent(to), id)
	})
	if err != nil {
		return nil, translate(err)
	}
	sale, err := s.Sale(ctx, id)
	if err != nil || changed || sale.State == to {
		return sale, err
	}
	return nil, flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonSaleNotActive,
		"sale %s is %s and cannot become %s", id, sale.State, to)
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

// Reschedule moves the window of a sale that has not started at now.
func (s *SaleStore) Reschedule(
	ctx context.Context,
	id string,
	start, end, now time.Time,
) (*flashsale.Sale, error) {
	tag, err := s.db.Exec(ctx, `
		UPDATE flash_sales SET start_time = $2, end_time = $3, updated_at = now()
		WHERE sale_id = $1 AND start_time > $4 AND state <> 'ended'`, id, start, end, now)
	if err != nil {
		return nil, translate(err)
	}
	sale, err := s.Sale(ctx, id)
	if err != nil || tag.RowsAffected() == 1 {
		return sale, err
	}
	return nil, flashsale.Errorf(flashsale.KindPrecondition, flashsale.ReasonSaleNotUpcoming,
		"sale %s has started or ended; only upcoming sales can be rescheduled", id)
}
