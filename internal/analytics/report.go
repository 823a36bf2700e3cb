package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// OrderTotals are what PostgreSQL's orders say about one sale product.
type OrderTotals struct {
	Units        int
	Count        int
	RevenueMinor int64
}

// Orders reads the truth the report is checked against (PostgreSQL).
type Orders interface {
	// SaleTotals returns order totals per product id of a sale.
	SaleTotals(ctx context.Context, saleID string) (map[string]OrderTotals, error)
}

// Sales reads a sale with its lines; KindNotFound when absent.
type Sales interface {
	Sale(ctx context.Context, id string) (*flashsale.Sale, error)
}

// ProductReport is one product of a sale report. The counts come from the
// analytics store; Orders comes from PostgreSQL.
type ProductReport struct {
	Line            flashsale.Line
	UnitsSold       int
	RevenueMinor    int64
	Holds           int
	Confirms        int
	Releases        int
	Expiries        int
	Rejections      map[string]int // by reason
	RejectionsTotal int            // refused reserves and declined payments
	RefundsRequired int
	Orders          OrderTotals
	Consistent      bool
}

// Conversion is confirms per hold, 0 without holds.
func (p ProductReport) Conversion() float64 {
	if p.Holds == 0 {
		return 0
	}
	return float64(p.Confirms) / float64(p.Holds)
}

// Report is the post-sale report of one sale.
type Report struct {
	Sale          *flashsale.Sale
	Products      []ProductReport
	Consistent    bool
	Discrepancies []string
	GeneratedAt   time.Time
}

// Reports builds sale reports.
type Reports struct {
	db     *pgxpool.Pool
	sales  Sales
	orders Orders
	now    func() time.Time
}

// NewReports returns reports on the analytics database, checked against
// the orders.
func NewReports(db *pgxpool.Pool, sales Sales, orders Orders) *Reports {
	return &Reports{db: db, sales: sales, orders: orders, now: time.Now}
}

// Report counts a sale per product and compares units sold, revenue and
// confirms with the orders. A disagreement is reported, not an error: the
// analytics store trails the orders by the stream's delay, and a gap that
// lasts means lost or doubled events.
func (r *Reports) Report(ctx context.Context, saleID string) (Report, error) {
	sale, err := r.sales.Sale(ctx, saleID)
	if err != nil {
		return Report{}, err
	}
	metrics, err := r.metrics(ctx, saleID)
	if isUndefinedTable(err) {
		// No loader has run against this store yet: nothing counted.
		metrics, err = map[string]ProductReport{}, nil
	}
	if err != nil {
		return Report{}, flashsale.Unavailable("analytics database", err)
	}
	totals, err := r.orders.SaleTotals(ctx, saleID)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Sale: sale, Consistent: true, GeneratedAt: r.now().UTC()}
	for _, l := range sale.Lines {
		p := metrics[l.ProductID]
		p.Line, p.Orders = l, totals[l.ProductID]
		if p.Rejections == nil {
			p.Rejections = map[string]int{}
		}
		gaps := compare(p)
		p.Consistent = len(gaps) == 0
		rep.Consistent = rep.Consistent && p.Consistent
		rep.Discrepancies = append(rep.Discrepancies, gaps...)
		rep.Products = append(rep.Products, p)
	}
	return rep, nil
}

func compare(p ProductReport) []string {
	var gaps []string
	check := func(what string, got, want int64) {
		if got != want {
			gaps = append(gaps, fmt.Sprintf("%s: analytics %s %d, orders %d",
				p.Line.ProductID, what, got, want))
		}
	}
	check("units_sold", int64(p.UnitsSold), int64(p.Orders.Units))
	check("revenue", p.RevenueMinor, p.Orders.RevenueMinor)
	check("confirms", int64(p.Confirms), int64(p.Orders.Count))
	return gaps
}

// metrics reads a sale's counters and rejections by product.
func (r *Reports) metrics(ctx context.Context, saleID string) (map[string]ProductReport, error) {
	rows, err := r.db.Query(ctx, `
		SELECT product_id, units_sold, revenue, holds, confirms, releases, expiries,
		       rejections + payment_declines, refunds_required
		FROM flash_sale_metrics WHERE sale_id = $1`, saleID)
	if err != nil {
		return nil, err
	}
	out := map[string]ProductReport{}
	var p ProductReport
	var id string
	_, err = pgx.ForEachRow(rows, []any{&id, &p.UnitsSold, &p.RevenueMinor, &p.Holds,
		&p.Confirms, &p.Releases, &p.Expiries, &p.RejectionsTotal, &p.RefundsRequired},
		func() error {
			p.Rejections = map[string]int{}
			out[id] = p
			return nil
		})
	if err != nil {
		return nil, err
	}
	rows, err = r.db.Query(ctx, `
		SELECT product_id, reason, rejections FROM flash_sale_rejections
		WHERE sale_id = $1`, saleID)
	if err != nil {
		return nil, err
	}
	var reason string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &reason, &n}, func() error {
		if p, ok := out[id]; ok {
			p.Rejections[reason] = n
		}
		return nil
	})
	return out, err
}
