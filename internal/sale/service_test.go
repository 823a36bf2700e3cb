package sale_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/redis"
	"github.com/flashsale/flashsale/internal/sale"
	"github.com/flashsale/flashsale/internal/testenv"
)

// redisState reads the admin state that the reserve script checks.
func redisState(t *testing.T, a *app.App, s *flashsale.Sale) string {
	t.Helper()
	v, err := a.Redis.HGet(context.Background(),
		"fs:{"+s.ID+":"+s.Lines[0].ProductID+"}:meta", "state").Result()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConcurrentAdminChangesLeaveBothStoresAgreeing(t *testing.T) {
	t.Parallel()
	a := testenv.App(t, testenv.Config(t))
	ctx := context.Background()
	for trial := range 5 {
		s := testenv.Sale(t, a, 2, 10)
		if _, err := a.Sales.Pause(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				switch {
				case i == 29:
					_, _ = a.Sales.End(ctx, s.ID)
				case i%2 == 0:
					_, _ = a.Sales.Resume(ctx, s.ID)
				default:
					_, _ = a.Sales.Pause(ctx, s.ID)
				}
			})
		}
		wg.Wait()
		stored, _, err := a.Sales.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		cached, _, _, err := a.Sales.Browse(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := redisState(t, a, s); got != string(stored.State) || cached.State != stored.State {
			t.Fatalf("trial %d: database %s, redis meta %s, redis document %s",
				trial, stored.State, got, cached.State)
		}
	}
}

func TestAdminChangeWithRedisDownChangesNothing(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t)
	good := testenv.App(t, cfg)
	s := testenv.Sale(t, good, 2, 10)
	down := cfg
	down.RedisURL = "redis://127.0.0.1:1/0"
	bad, err := app.New(context.Background(), down, testenv.Logger(t), app.Options{DBConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	ctx := context.Background()

	if _, err := bad.Sales.Pause(ctx, s.ID); flashsale.ErrorKind(err) != flashsale.KindUnavailable {
		t.Fatalf("pause with redis down: got %v, want unavailable", err)
	}
	stored, _, err := good.Sales.Get(ctx, s.ID)
	if err != nil || stored.State != flashsale.StateScheduled {
		t.Fatalf("after failed pause: database state %v %v, want scheduled", stored, err)
	}

	id := testenv.ID("S")
	_, err = bad.Sales.Create(ctx, sale.CreateInput{ID: id, Start: time.Now(),
		End: time.Now().Add(time.Hour), DiscountPercent: 10,
		Lines: []sale.LineInput{{ProductID: s.Lines[0].ProductID, TotalQty: 1}}})
	if flashsale.ErrorKind(err) != flashsale.KindUnavailable {
		t.Fatalf("create with redis down: got %v, want unavailable", err)
	}
	if _, _, err := good.Sales.Get(ctx, id); flashsale.ErrorKind(err) != flashsale.KindNotFound {
		t.Fatalf("sale created while redis was down: got %v, want not found", err)
	}
}

func TestEnsureLoadedRestoresAnEmptiedRedis(t *testing.T) {
	t.Parallel()
	// Database 3: deleting the loaded marker below must not reach the tests
	// of other packages, which share database 2.
	a := testenv.App(t, testenv.OwnRedisDB(t, testenv.Config(t), 3))
	ctx := context.Background()
	s := testenv.Sale(t, a, 2, 10)
	if _, err := a.Sales.EnsureLoaded(ctx); err != nil {
		t.Fatal(err)
	}

	// A shopper buys up to the limit of 2 before Redis loses its data.
	h, err := a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID,
		ProductID: s.Lines[0].ProductID, UserID: "U1", Qty: 2})
	if err != nil {
		t.Fatal(err)
	}
	pay := a.Payments.Create(h.Hold.HoldID, h.Hold.AmountMinor, "USD", flashsale.PaymentPaid)
	if _, err := a.Inventory.Confirm(ctx, "U1", s.ID, h.Hold.HoldID, pay.ID); err != nil {
		t.Fatal(err)
	}

	// What a restart without persistence does to this sale: every key gone,
	// the loaded marker with them.
	p := "fs:{" + s.ID + ":" + s.Lines[0].ProductID + "}:"
	if err := a.Redis.Del(ctx, p+"stock", p+"meta", p+"users", p+"res", "{fs}:loaded").Err(); err != nil {
		t.Fatal(err)
	}
	// The sale's document first outlives its stock (as this process's copy
	// of the list may): no "0 available" while Redis reloads.
	if _, _, _, err := a.Sales.Browse(ctx, s.ID); flashsale.ErrorKind(err) != flashsale.KindUnavailable {
		t.Fatalf("browse without stock before the reload: got %v, want unavailable, not sold out", err)
	}
	if err := a.Redis.HDel(ctx, "fs:sales", s.ID).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := a.Sales.Browse(ctx, s.ID); flashsale.ErrorKind(err) != flashsale.KindUnavailable {
		t.Fatalf("browse before the reload: got %v, want unavailable, not a final not found", err)
	}
	_, err = a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID,
		ProductID: s.Lines[0].ProductID, UserID: "U2", Qty: 1})
	if flashsale.ErrorKind(err) != flashsale.KindUnavailable {
		t.Fatalf("reserve before the reload: got %v, want unavailable, not a final not found", err)
	}
	if err := a.Inventory.Release(ctx, "U1", s.ID, h.Hold.HoldID); flashsale.ErrorKind(err) !=
		flashsale.KindUnavailable {
		t.Fatalf("release before the reload: got %v, want unavailable, not a final not found", err)
	}
	n, err := a.Sales.EnsureLoaded(ctx)
	if err != nil || n == 0 {
		t.Fatalf("ensure loaded: got %d %v, want the sales loaded", n, err)
	}
	_, avail, _, err := a.Sales.Browse(ctx, s.ID)
	if err != nil || avail[s.Lines[0].ProductID] != 8 {
		t.Fatalf("browse after reload: got %v %v, want 8 available", avail, err)
	}
	// The limit remembers what U1 bought.
	_, err = a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID,
		ProductID: s.Lines[0].ProductID, UserID: "U1", Qty: 1})
	if flashsale.ErrorReason(err) != flashsale.ReasonLimitReached {
		t.Fatalf("reserve beyond the limit after reload: got %v, want %s", err,
			flashsale.ReasonLimitReached)
	}
	if n, err := a.Sales.EnsureLoaded(ctx); err != nil || n != 0 {
		t.Fatalf("second ensure loaded: got %d %v, want 0: nothing to do", n, err)
	}
}

func TestCreateRefusesWindowsInThePastAndFreeProducts(t *testing.T) {
	t.Parallel()
	a := testenv.App(t, testenv.Config(t))
	ctx := context.Background()
	cheap := flashsale.Product{ID: testenv.ID("P"), Name: "Sticker", BasePriceMinor: 1,
		Currency: "USD"}
	if err := a.Sales.UpsertProducts(ctx, []flashsale.Product{cheap}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cases := []struct {
		name  string
		in    sale.CreateInput
		field string
	}{
		{"ended window", sale.CreateInput{Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour),
			DiscountPercent: 10}, "endTime"},
		{"free after discount", sale.CreateInput{Start: now, End: now.Add(time.Hour),
			DiscountPercent: 99}, "discountPercent"},
	}
	for _, c := range cases {
		c.in.ID = testenv.ID("S")
		c.in.Lines = []sale.LineInput{{ProductID: cheap.ID, TotalQty: 1}}
		_, err := a.Sales.Create(ctx, c.in)
		var fe *flashsale.Error
		if flashsale.ErrorKind(err) != flashsale.KindInvalid || !asError(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want invalid %s", c.name, err, c.field)
		}
		if _, _, err := a.Sales.Get(ctx, c.in.ID); flashsale.ErrorKind(err) != flashsale.KindNotFound {
			t.Errorf("%s: sale exists after a refused create (%v)", c.name, err)
		}
	}
}

func asError(err error, target **flashsale.Error) bool { return errors.As(err, target) }

func TestEndedSalesLeaveRedisAfterTheRetention(t *testing.T) {
	t.Parallel()
	a := testenv.App(t, testenv.Config(t))
	ctx := context.Background()
	s := testenv.Sale(t, a, 2, 10, 10)
	if _, err := a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: s.ID,
		ProductID: s.Lines[0].ProductID, UserID: "U1", Qty: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sales.End(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	keys := func() int64 {
		var n int64
		for _, l := range s.Lines {
			p := "fs:{" + s.ID + ":" + l.ProductID + "}:"
			c, err := a.Redis.Exists(ctx, p+"stock", p+"meta", p+"res", p+"exp", p+"users",
				p+"idem", p+"events").Result()
			if err != nil {
				t.Fatal(err)
			}
			n += c
		}
		return n
	}
	cached := func() []*flashsale.Sale {
		sale, err := a.Sales.Cached(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range sale {
			if x.ID == s.ID {
				return []*flashsale.Sale{x}
			}
		}
		return nil
	}
	retire := func(at time.Time) int {
		n, err := a.Sales.RetireEnded(ctx, cached(), at)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Retention counts from the scheduled end, also for a sale ended early.
	if n := retire(s.End.Add(sale.Retention - time.Minute)); n != 0 || keys() == 0 {
		t.Fatalf("within the retention: retired %d, want 0 and the keys kept", n)
	}
	// A day later, but the reserve's events wait for the relay: kept.
	later := s.End.Add(sale.Retention + time.Minute)
	if n := retire(later); n != 0 || len(cached()) != 1 {
		t.Fatalf("with unpublished events: retired %d, want 0 and the sale kept", n)
	}
	// The relay publishes them and deletes them from the stream.
	streams := redis.NewEventStreams(a.Redis)
	var refs []events.ProductRef
	for _, l := range s.Lines {
		refs = append(refs, events.ProductRef{SaleID: s.ID, ProductID: l.ProductID})
	}
	pending, err := streams.Pending(ctx, refs, 100)
	if err != nil || len(pending) == 0 {
		t.Fatalf("pending events: got %d, %v; want the reserve's", len(pending), err)
	}
	if err := streams.Delete(ctx, pending); err != nil {
		t.Fatal(err)
	}
	if n := retire(later); n != 1 || keys() != 0 || cached() != nil {
		t.Fatalf("after the relay: retired %d with %d keys left, want 1 and none", n, keys())
	}
	if _, _, _, err := a.Sales.Browse(ctx, s.ID); flashsale.ErrorKind(err) != flashsale.KindNotFound {
		t.Fatalf("browse a retired sale: got %v, want not found", err)
	}
	got, avail, err := a.Sales.Get(ctx, s.ID)
	if err != nil || got.State != flashsale.StateEnded || avail[s.Lines[0].ProductID] != 0 {
		t.Fatalf("admin get of a retired sale: got %v %v %v, want it ended, from PostgreSQL", got, avail, err)
	}
}

// A reload waits for a confirm that is committing, so the stock and the
// shopper's units it restores count that order.
func TestReloadCountsAConfirmInFlight(t *testing.T) {
	t.Parallel()
	// Database 4: the test empties it, like a Redis that lost its data.
	a := testenv.App(t, testenv.OwnRedisDB(t, testenv.Config(t), 4))
	ctx := context.Background()
	s := testenv.Sale(t, a, 2, 10)
	line := s.Lines[0]

	// A confirm between its sold update and its commit.
	tx, err := a.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `UPDATE flash_sale_products SET sold = sold + 1
		WHERE sale_id = $1 AND product_id = $2`, s.ID, line.ProductID)
	if err == nil {
		_, err = tx.Exec(ctx, `INSERT INTO orders (order_id, user_id, sale_id, product_id,
			quantity, amount, currency, reservation_id, payment_id)
			VALUES ($1, 'U1', $2, $3, 1, $4, 'USD', $5, $6)`, testenv.ID("o"), s.ID,
			line.ProductID, line.SalePriceMinor, testenv.ID("r"), testenv.ID("pay"))
	}
	if err != nil {
		t.Fatal(err)
	}

	p := "fs:{" + s.ID + ":" + line.ProductID + "}:"
	if err := a.Redis.Del(ctx, p+"stock", p+"meta", p+"users", "{fs}:loaded").Err(); err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 1)
	go func() { _, err := a.Sales.EnsureLoaded(ctx); reloaded <- err }()
	time.Sleep(300 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	stock, _ := a.Redis.Get(ctx, p+"stock").Int()
	units, _ := a.Redis.HGet(ctx, p+"users", "U1").Int()
	if stock != 9 || units != 1 {
		t.Fatalf("after the reload: stock %d, U1 has %d; want 9 and 1", stock, units)
	}
}

// Browsing shows a stock change within the 100 ms that a process may keep
// a sale's availability, and concurrent polls all see it.
func TestBrowseShowsAChangeWithinItsStaleness(t *testing.T) {
	t.Parallel()
	a := testenv.App(t, testenv.Config(t))
	ctx := context.Background()
	s := testenv.Sale(t, a, 2, 10)
	p := s.Lines[0].ProductID
	if _, avail, _, err := a.Sales.Browse(ctx, s.ID); err != nil || avail[p] != 10 {
		t.Fatalf("browse: got %v %v, want 10 available", avail, err)
	}
	if err := a.Redis.DecrBy(ctx, "fs:{"+s.ID+":"+p+"}:stock", 3).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, avail, _, err := a.Sales.Browse(ctx, s.ID); err != nil || avail[p] != 7 {
				t.Errorf("browse 150 ms after the change: got %v %v, want 7 available", avail, err)
			}
		})
	}
	wg.Wait()
}
