package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// Catalog stores products.
type Catalog struct{ db *pgxpool.Pool }

var _ flashsale.Catalog = (*Catalog)(nil)

// NewCatalog returns a catalog on a pool.
func NewCatalog(db *pgxpool.Pool) *Catalog { return &Catalog{db: db} }

// UpsertProducts writes products in one transaction.
func (c *Catalog) UpsertProducts(ctx context.Context, products []flashsale.Product) error {
	const q = `
		INSERT INTO products (product_id, name, base_price, currency)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (product_id) DO UPDATE
		SET name = excluded.name, base_price = excluded.base_price,
		    currency = excluded.currency, updated_at = now()`
	err := pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, p := range products {
			b.Queue(q, p.ID, p.Name, p.BasePriceMinor, p.Currency)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return translate(err)
}

// Products returns the products with these ids that exist.
func (c *Catalog) Products(ctx context.Context, ids []string) (map[string]flashsale.Product, error) {
	rows, err := c.db.Query(ctx, `
		SELECT product_id, name, base_price, currency
		FROM products WHERE product_id = ANY($1)`, ids)
	if err != nil {
		return nil, translate(err)
	}
	found := make(map[string]flashsale.Product, len(ids))
	var p flashsale.Product
	_, err = pgx.ForEachRow(rows, []any{&p.ID, &p.Name, &p.BasePriceMinor, &p.Currency}, func() error {
		found[p.ID] = p
		return nil
	})
	return found, translate(err)
}
