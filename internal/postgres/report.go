package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/flashsale/flashsale/internal/analytics"
)

var _ analytics.Orders = (*OrderStore)(nil)

// SaleTotals sums a sale's orders per product: the truth that the post-sale
// report checks the analytics store against.
func (s *OrderStore) SaleTotals(
	ctx context.Context,
	saleID string,
) (map[string]analytics.OrderTotals, error) {
	rows, err := s.db.Query(ctx, `
		SELECT product_id, COALESCE(SUM(quantity), 0), COUNT(*), COALESCE(SUM(amount), 0)
		FROM orders WHERE sale_id = $1 GROUP BY product_id`, saleID)
	if err != nil {
		return nil, translate(err)
	}
	out := map[string]analytics.OrderTotals{}
	var id string
	var t analytics.OrderTotals
	_, err = pgx.ForEachRow(rows, []any{&id, &t.Units, &t.Count, &t.RevenueMinor}, func() error {
		out[id] = t
		return nil
	})
	return out, translate(err)
}
