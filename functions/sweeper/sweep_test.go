package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/lambdahttp/lambdatest"
	"github.com/flashsale/flashsale/internal/postgres"
	"github.com/flashsale/flashsale/internal/testenv"
)

// sweeperDB is the Redis database of these tests. The local server sweeps
// database 0 too; a database of their own lets the tests count the holds
// that this sweeper reclaimed.
const sweeperDB = 9

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg = testenv.OwnRedisDB(t, cfg, sweeperDB)
	cfg.ReservationTTL = 200 * time.Millisecond
	return cfg
}

func newSweeper(t *testing.T, cfg config.Config) (*app.App, *sweeper) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	a, s, err := build(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(a.Close)
	return a, s
}

func scheduledEvent(t *testing.T) events.EventBridgeEvent {
	t.Helper()
	var ev events.EventBridgeEvent
	raw := lambdatest.ReadFile(t, "testdata/scheduled-event.json")
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestHandleSweepsUntilTheDeadline(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
		t.Fatalf("migrate (is the local stack up? localstack/up.sh): %v", err)
	}
	a, s := newSweeper(t, cfg)
	// The database's other sales go into this emptied Redis first: the
	// test times the sweeps, not a reload of every sale other tests made.
	if _, err := a.Sales.EnsureLoaded(ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	saleID := lambdatest.SeedSale(t, a.Sales)
	for _, user := range []string{"U9001", "U9002"} {
		_, err := a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: saleID,
			ProductID: "LAMBDA-P1", UserID: user, Qty: 1})
		if err != nil {
			t.Fatalf("reserve: %v", err)
		}
	}
	time.Sleep(cfg.ReservationTTL + 50*time.Millisecond)

	// Lambda's deadline in 2.2s: with a 1s margin and 500ms between sweeps,
	// sweeps start at 0, 0.5 and 1s, and the handler returns once the last
	// one is done, before the deadline.
	deadline := time.Now().Add(2200 * time.Millisecond)
	invokeCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	res, err := s.Handle(invokeCtx, scheduledEvent(t))
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	if left := time.Until(deadline); left <= 0 || left > s.margin+s.every {
		t.Errorf("returned %v before the deadline, want within the %v margin and before it",
			left, s.margin)
	}
	// Three sweeps when each is quick; a busy machine (or a database full
	// of earlier runs' sales) may fit only two before the margin.
	if res.Sweeps < 2 || res.Failed != 0 || res.Expired != 2 {
		t.Errorf("got %+v, want at least 2 sweeps, none failed, 2 holds expired", res)
	}

	_, avail, _, err := a.Sales.Browse(ctx, saleID)
	if err != nil || avail["LAMBDA-P1"] != 1000 {
		t.Errorf("got %d available (err %v), want all 1000 back", avail["LAMBDA-P1"], err)
	}
}

func TestHandleWithoutDeadlineSweepsOnce(t *testing.T) {
	_, s := newSweeper(t, testConfig(t))
	res, err := s.Handle(context.Background(), scheduledEvent(t))
	if err != nil || res.Sweeps != 1 || res.Failed != 0 {
		t.Errorf("got %+v, %v; want one sweep that succeeded", res, err)
	}
}

func TestHandleFailsWhenEverySweepFails(t *testing.T) {
	cfg := testConfig(t)
	cfg.RedisURL = "redis://127.0.0.1:1/0" // nothing listens there
	_, s := newSweeper(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := s.Handle(ctx, scheduledEvent(t))
	if err == nil || res.Sweeps < 2 || res.Failed != res.Sweeps {
		t.Errorf("got %+v, %v; want every sweep failed and an error", res, err)
	}
}
