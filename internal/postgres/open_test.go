package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/postgres"
)

// These tests run on the local stack's PostgreSQL and pgbouncer and fail,
// not skip, when they are down: `make test` starts the stack first.
func stackURL(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var (
	directURL = stackURL("DATABASE_URL",
		"postgres://flashsale:flashsale@127.0.0.1:15432/flashsale?sslmode=disable")
	pgbouncerURL = stackURL("PGBOUNCER_URL",
		"postgres://flashsale:flashsale@127.0.0.1:16432/flashsale?sslmode=disable")
)

// withAppName tags a pool's connections, so a test kills only its own.
func withAppName(t *testing.T, raw, name string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t *testing.T, url string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(context.Background(), url, maxConns)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// backendPIDs holds n connections of the pool at once and returns their
// server process ids, so that all of them exist and have been used.
func backendPIDs(t *testing.T, pool *pgxpool.Pool, n int) []int32 {
	t.Helper()
	ctx := context.Background()
	var pids []int32
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		defer c.Release()
		var pid int32
		if err := c.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatalf("query: %v", err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// kill terminates every backend with the application name, waiting until
// each has exited, as a failover or an administrator would.
func kill(t *testing.T, appName string) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, directURL)
	if err != nil {
		t.Fatalf("connect (is the local stack up? localstack/up.sh): %v", err)
	}
	defer c.Close(ctx)
	var n int
	err = c.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))
		FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n)
	if err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	return n
}

// TestOpenReplacesKilledConnections: connections that the server killed
// while they sat in the pool (as while a Lambda function was frozen) are
// replaced on the next acquire, and no query fails.
func TestOpenReplacesKilledConnections(t *testing.T) {
	t.Parallel()
	appName := "open-test-" + strings.ToLower(rand.Text()[:10])
	pool := open(t, withAppName(t, directURL, appName), 2)
	ctx := context.Background()
	catalog := postgres.NewCatalog(pool)

	steps := []struct {
		name string
		use  func() error
	}{
		{"query", func() error {
			var one int
			return pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
		}},
		{"transaction", func() error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `SELECT pg_backend_pid()`)
				return err
			})
		}},
		{"catalog read", func() error {
			_, err := catalog.Products(ctx, []string{"P101"})
			return err
		}},
	}
	for _, s := range steps {
		before := backendPIDs(t, pool, 2)
		if n := kill(t, appName); n != 2 {
			t.Fatalf("%s: killed %d backends, want 2", s.name, n)
		}
		if err := s.use(); err != nil {
			t.Fatalf("%s after the kill: %v", s.name, err)
		}
		for _, pid := range backendPIDs(t, pool, 2) {
			if slices.Contains(before, pid) {
				t.Errorf("%s: backend %d survived the kill", s.name, pid)
			}
		}
	}
}

// TestOpenThroughPgbouncer runs the adapter's writes and reads from two
// pools at once through pgbouncer in transaction mode, where server
// connections change between transactions: named prepared statements would
// fail there, exec mode must not.
func TestOpenThroughPgbouncer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := postgres.Migrate(ctx, directURL); err != nil {
		t.Fatalf("migrate (is the local stack up? localstack/up.sh): %v", err)
	}
	prefix := "PGB-" + rand.Text()[:8]
	t.Cleanup(func() { deleteRows(t, prefix) })

	const pools, workers, rounds = 2, 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, pools*workers*rounds)
	for p := range pools {
		pool := open(t, pgbouncerURL, 4)
		for w := range workers {
			wg.Go(func() {
				for r := range rounds {
					id := fmt.Sprintf("%s-%d-%d-%d", prefix, p, w, r)
					if err := writeAndRead(ctx, pool, id); err != nil {
						errs <- fmt.Errorf("%s: %w", id, err)
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// writeAndRead upserts a product, creates a sale of it, places an order and
// reads them back, each through the adapter.
func writeAndRead(ctx context.Context, pool *pgxpool.Pool, id string) error {
	product := flashsale.Product{ID: id, Name: "pgbouncer " + id, BasePriceMinor: 1000,
		Currency: "USD"}
	err := postgres.NewCatalog(pool).UpsertProducts(ctx, []flashsale.Product{product})
	if err != nil {
		return fmt.Errorf("upsert product: %w", err)
	}
	// An ended window: these sales must never show up as active elsewhere.
	now := time.Now().UTC().Truncate(time.Second)
	sale := &flashsale.Sale{ID: id, Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour),
		DiscountPercent: 10, PerUserLimit: 2, State: flashsale.StateScheduled,
		Lines: []flashsale.Line{{ProductID: id, Name: product.Name, Currency: "USD",
			TotalQty: 3, OriginalPriceMinor: 1000, SalePriceMinor: 900}}}
	sales := postgres.NewSaleStore(pool)
	if _, created, err := sales.CreateSale(ctx, sale, func(*flashsale.Sale) error { return nil }); err != nil || !created {
		return fmt.Errorf("create sale: created %v, %w", created, err)
	}
	orders := postgres.NewOrderStore(pool)
	order := flashsale.Order{ID: "o_" + id, UserID: "U9001", SaleID: id, ProductID: id,
		HoldID: "r_" + id, PaymentID: "pay_" + id, Qty: 1, AmountMinor: 900, Currency: "USD"}
	if _, err := orders.Place(ctx, order); err != nil {
		return fmt.Errorf("place order: %w", err)
	}
	if _, found, err := orders.ByHold(ctx, order.HoldID); err != nil || !found {
		return fmt.Errorf("read order: found %v, %w", found, err)
	}
	stored, err := sales.Sale(ctx, id)
	if err != nil {
		return fmt.Errorf("read sale: %w", err)
	}
	if got := stored.Lines[0].SoldQty; got != 1 {
		return fmt.Errorf("read sale: got sold %d, want 1", got)
	}
	return nil
}

// deleteRows removes what the pgbouncer test wrote, outbox events included,
// so that no other test or relay sees them.
func deleteRows(t *testing.T, prefix string) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, directURL)
	if err != nil {
		t.Errorf("clean up: %v", err)
		return
	}
	defer c.Close(ctx)
	like := prefix + "-%"
	for _, q := range []string{
		`DELETE FROM outbox WHERE sale_id LIKE $1`,
		`DELETE FROM orders WHERE sale_id LIKE $1`,
		`DELETE FROM flash_sale_products WHERE sale_id LIKE $1`,
		`DELETE FROM flash_sales WHERE sale_id LIKE $1`,
		`DELETE FROM products WHERE product_id LIKE $1`,
	} {
		if _, err := c.Exec(ctx, q, like); err != nil {
			t.Errorf("clean up: %v", err)
		}
	}
}
