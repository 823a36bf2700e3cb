package inventory_test

import (
	"context"
	"testing"
	"time"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/payment"
	"github.com/flashsale/flashsale/internal/testenv"
)

// unreachable is a loopback port nothing listens on.
const unreachable = "127.0.0.1:1"

// brokenApp wires the service with one dependency pointing nowhere.
func brokenApp(t *testing.T, cfg config.Config, payments *payment.Simulator) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), cfg, testenv.Logger(t),
		app.Options{DBConns: 2, Payments: payments})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestRedisDownFailsFastAndWritesNothing(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	good := testenv.App(t, cfg)
	sl := testenv.Sale(t, good, 2, 10)
	p := sl.Lines[0].ProductID
	h, err := good.Inventory.Reserve(context.Background(), inventory.ReserveInput{
		SaleID: sl.ID, ProductID: p, UserID: "U1", Qty: 1})
	if err != nil {
		t.Fatal(err)
	}

	down := cfg
	down.RedisURL = "redis://" + unreachable + "/0"
	bad := brokenApp(t, down, good.Payments)
	pay := good.Payments.Create(h.Hold.HoldID, h.Hold.AmountMinor, "USD", flashsale.PaymentPaid)
	calls := map[string]func(ctx context.Context) error{
		"reserve": func(ctx context.Context) error {
			_, err := bad.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: sl.ID,
				ProductID: p, UserID: "U2", Qty: 1})
			return err
		},
		"confirm": func(ctx context.Context) error {
			_, err := bad.Inventory.Confirm(ctx, "U1", sl.ID, h.Hold.HoldID, pay.ID)
			return err
		},
		"release": func(ctx context.Context) error {
			return bad.Inventory.Release(ctx, "U1", sl.ID, h.Hold.HoldID)
		},
	}
	for name, call := range calls {
		start := time.Now()
		err := call(context.Background())
		if took := time.Since(start); flashsale.ErrorKind(err) != flashsale.KindUnavailable || took > time.Second {
			t.Errorf("%s: got %v after %s, want unavailable within a second", name, err, took)
		}
	}
	var orders int
	_ = good.DB.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE sale_id = $1`,
		sl.ID).Scan(&orders)
	if orders != 0 {
		t.Fatalf("orders written while Redis was down: %d, want 0", orders)
	}
}

func TestDatabaseDownAtConfirmKeepsTheHold(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	good := testenv.App(t, cfg)
	sl := testenv.Sale(t, good, 2, 10)
	p := sl.Lines[0].ProductID
	ctx := context.Background()
	h, err := good.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: sl.ID, ProductID: p,
		UserID: "U1", Qty: 1})
	if err != nil {
		t.Fatal(err)
	}

	down := cfg
	down.DatabaseURL = "postgres://flashsale:flashsale@" + unreachable + "/flashsale?sslmode=disable"
	bad := brokenApp(t, down, good.Payments)
	pay := good.Payments.Create(h.Hold.HoldID, h.Hold.AmountMinor, "USD", flashsale.PaymentPaid)
	start := time.Now()
	_, err = bad.Inventory.Confirm(ctx, "U1", sl.ID, h.Hold.HoldID, pay.ID)
	if flashsale.ErrorKind(err) != flashsale.KindUnavailable || time.Since(start) > 3*time.Second {
		t.Fatalf("confirm with the database down: got %v after %s, want unavailable",
			err, time.Since(start))
	}
	c, err := good.Inventory.Counters(ctx, sl.ID, p)
	if err != nil || c.Held != 1 || c.Available != 9 {
		t.Fatalf("after failed confirm: %+v %v, want the unit still held", c, err)
	}

	// The database is back: the same confirm succeeds, once.
	o, err := good.Inventory.Confirm(ctx, "U1", sl.ID, h.Hold.HoldID, pay.ID)
	if err != nil {
		t.Fatalf("retry after recovery: %v", err)
	}
	c, _ = good.Inventory.Counters(ctx, sl.ID, p)
	if c.Sold != 1 || c.Held != 0 || o.ID == "" {
		t.Fatalf("after retry: %+v order %q, want sold 1", c, o.ID)
	}
}
