package loadtest

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/redis"
)

// ProductTruth is what PostgreSQL and Redis hold for one sale product after
// the load stopped, next to what the harness was told.
type ProductTruth struct {
	Sale    string `json:"sale"`
	Product string `json:"product"`
	Limit   int    `json:"limit"`
	Total   int    `json:"total"`
	// PostgreSQL: the guarded sold count and the units in orders.
	PGSold       int `json:"pg_sold"`
	PGOrderUnits int `json:"pg_order_units"`
	// Redis counters, read in one atomic snapshot.
	Available int `json:"redis_available"`
	Held      int `json:"redis_held"`
	Sold      int `json:"redis_sold"`
	Discarded int `json:"redis_discarded"`
	// Units the harness saw confirmed (journey sale only).
	HarnessConfirmed int `json:"harness_confirmed"`
	// Users above the per-user limit in PostgreSQL orders and in Redis.
	UsersOverLimitPG    int `json:"users_over_limit_pg"`
	UsersOverLimitRedis int `json:"users_over_limit_redis"`
	Oversold            int `json:"oversold"`
}

// Truth is the result of the checks of a run.
type Truth struct {
	Ran      bool           `json:"ran"`
	OK       bool           `json:"ok"`
	Oversold int            `json:"oversold"`
	Products []ProductTruth `json:"products"`
	Problems []string       `json:"problems"`
}

// checker reads the truth straight from the stores, never through the
// server under test.
type checker struct {
	db *pgxpool.Pool
	rc goredis.UniversalClient
}

// check reads every product of the sales and tests the invariants:
// sold <= total, available + held + sold + discarded = total, orders in
// PostgreSQL match the guarded count, no user above the limit.
func (k checker) check(ctx context.Context, sales []saleInfo,
	confirmed map[string]int) (Truth, error) {
	t := Truth{Ran: true}
	for _, s := range sales {
		for _, p := range s.products {
			pt, err := k.product(ctx, s, p)
			if err != nil {
				return t, err
			}
			pt.HarnessConfirmed = confirmed[p]
			pt.Oversold = oversold(pt)
			t.Problems = append(t.Problems, problems(pt)...)
			t.Oversold += pt.Oversold
			t.Products = append(t.Products, pt)
		}
	}
	t.OK = len(t.Problems) == 0
	return t, nil
}

func (k checker) product(ctx context.Context, s saleInfo, product string) (ProductTruth, error) {
	pt := ProductTruth{Sale: s.id, Product: product, Limit: s.limit}
	err := k.db.QueryRow(ctx, `
		SELECT p.total_qty, p.sold,
		       (SELECT coalesce(sum(quantity), 0) FROM orders o
		         WHERE o.sale_id = p.sale_id AND o.product_id = p.product_id),
		       (SELECT count(*) FROM (SELECT 1 FROM orders o
		         WHERE o.sale_id = p.sale_id AND o.product_id = p.product_id
		         GROUP BY o.user_id HAVING sum(o.quantity) > $3) over_limit)
		FROM flash_sale_products p WHERE p.sale_id = $1 AND p.product_id = $2`,
		s.id, product, s.limit).Scan(&pt.Total, &pt.PGSold, &pt.PGOrderUnits,
		&pt.UsersOverLimitPG)
	if err != nil {
		return pt, fmt.Errorf("truth of %s/%s in postgres: %w", s.id, product, err)
	}
	c, err := redis.NewHoldStore(k.rc).Counters(ctx, s.id, product)
	if err != nil {
		return pt, fmt.Errorf("truth of %s/%s in redis: %w", s.id, product, err)
	}
	pt.Available, pt.Held, pt.Sold, pt.Discarded = c.Available, c.Held, c.Sold, c.Discarded
	if c.Total != pt.Total {
		return pt, fmt.Errorf("truth of %s/%s: redis total %d, postgres total %d",
			s.id, product, c.Total, pt.Total)
	}
	pt.UsersOverLimitRedis, err = k.usersOverLimit(ctx, s, product)
	return pt, err
}

// usersOverLimit counts users whose held plus bought units in Redis exceed
// the limit. The key follows the layout in internal/redis/keys.go.
func (k checker) usersOverLimit(ctx context.Context, s saleInfo, product string) (int, error) {
	key := "fs:{" + s.id + ":" + product + "}:users"
	var over int
	iter := k.rc.HScan(ctx, key, 0, "", 1000).Iterator()
	for i := 0; iter.Next(ctx); i++ {
		if i%2 == 0 {
			continue // a field: the user id; its value comes next
		}
		if n, err := strconv.Atoi(iter.Val()); err != nil || n > s.limit {
			over++
		}
	}
	if err := iter.Err(); err != nil {
		return 0, fmt.Errorf("users of %s/%s in redis: %w", s.id, product, err)
	}
	return over, nil
}

// oversold counts units beyond the total in any view: orders in
// PostgreSQL, its guarded count, confirms the harness saw, or units Redis
// has taken out of stock (held, sold or discarded).
func oversold(p ProductTruth) int {
	sold := max(p.PGSold, p.PGOrderUnits, p.HarnessConfirmed)
	return max(0, sold-p.Total) + max(0, p.Held+p.Sold+p.Discarded-p.Total)
}

func problems(p ProductTruth) []string {
	var out []string
	add := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("%s/%s: ", p.Sale, p.Product)+fmt.Sprintf(format, args...))
	}
	if p.Oversold > 0 {
		add("oversold by %d units", p.Oversold)
	}
	if sum := p.Available + p.Held + p.Sold + p.Discarded; sum != p.Total || p.Available < 0 {
		add("available %d + held %d + sold %d + discarded %d = %d, want total %d",
			p.Available, p.Held, p.Sold, p.Discarded, sum, p.Total)
	}
	if p.PGSold != p.PGOrderUnits {
		add("postgres sold count %d, but orders hold %d units", p.PGSold, p.PGOrderUnits)
	}
	if p.Sold != p.PGSold {
		add("redis sold %d, postgres sold %d", p.Sold, p.PGSold)
	}
	if p.HarnessConfirmed > p.PGOrderUnits {
		add("%d units confirmed to shoppers, only %d in orders", p.HarnessConfirmed,
			p.PGOrderUnits)
	}
	if p.UsersOverLimitPG > 0 || p.UsersOverLimitRedis > 0 {
		add("users above the limit of %d: %d in postgres orders, %d in redis",
			p.Limit, p.UsersOverLimitPG, p.UsersOverLimitRedis)
	}
	return out
}
