package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/testenv"
)

// modelHold is one worker's sequential view of a hold it made.
type modelHold struct {
	ref      flashsale.HoldRef
	user     string
	qty      int
	amount   int64
	deadline time.Time
	state    flashsale.HoldState // HELD, CONFIRMED, RELEASED, EXPIRED
	order    string
}

// worker owns its users, so its model of their holds is exact except for
// the moment a hold expires, which the checks allow for with bounds.
type worker struct {
	a     *app.App
	sale  *flashsale.Sale
	limit int
	users []string
	holds []*modelHold
	rng   *rand.Rand
}

// TestRandomizedOperationsKeepTheInvariants runs reserve, confirm, release
// and abandon-to-expire at 200-way concurrency (SOAK_OPS operations, 100,000
// by default; `make soak` runs a million) and checks after every step:
// available + held + sold + discarded = total, each user within the limit,
// the worker's model agreeing with every answer, PostgreSQL never above total.
func TestRandomizedOperationsKeepTheInvariants(t *testing.T) {
	ops := 100_000
	if n, err := strconv.Atoi(os.Getenv("SOAK_OPS")); err == nil && n > 0 {
		ops = n
	}
	const workers, limit = 200, 3
	cfg := testenv.Config(t)
	cfg.ReservationTTL = 400 * time.Millisecond
	cfg.ConfirmGrace = 200 * time.Millisecond
	a := testenv.App(t, cfg)
	sl := testenv.Sale(t, a, limit, 2500, 2500, 2500, 2500)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { // the sweeper, as the server runs it
		for ctx.Err() == nil {
			_, _ = a.Inventory.Sweep(ctx, []*flashsale.Sale{sl})
			time.Sleep(100 * time.Millisecond)
		}
	}()

	var failures atomic.Int64
	errs := make(chan error, 100)
	var wg sync.WaitGroup
	all := make([]*worker, workers)
	for i := range workers {
		w := &worker{a: a, sale: sl, limit: limit, rng: rand.New(rand.NewPCG(uint64(i), 7))}
		for u := range 5 {
			w.users = append(w.users, fmt.Sprintf("W%03dU%d", i, u))
		}
		all[i] = w
		wg.Go(func() {
			for n := 0; n < ops/workers && failures.Load() == 0; n++ {
				if err := w.step(); err != nil {
					if failures.Add(1) <= 100 {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	stop()
	time.Sleep(cfg.ReservationTTL + cfg.ConfirmGrace + 100*time.Millisecond)
	if _, err := a.Inventory.Sweep(context.Background(), []*flashsale.Sale{sl}); err != nil {
		t.Fatal(err)
	}
	checkFinal(t, a, sl, all)
}

func (w *worker) step() error {
	switch r := w.rng.IntN(100); {
	case r < 45:
		return w.reserve()
	case r < 70:
		return w.confirm()
	case r < 85:
		return w.release()
	default:
		w.abandon()
		return nil
	}
}

// units bounds what the store counted for a user during a call that has
// returned: lower counts only holds alive past the return, so surely alive
// when the script ran; upper every hold not known to be gone.
func (w *worker) units(user, product string) (lower, upper int) {
	soon := time.Now()
	for _, h := range w.holds {
		if h.user != user || h.ref.ProductID != product {
			continue
		}
		switch {
		case h.state == flashsale.HoldConfirmed:
			lower, upper = lower+h.qty, upper+h.qty
		case h.state == flashsale.HoldHeld && h.deadline.After(soon):
			lower, upper = lower+h.qty, upper+h.qty
		case h.state == flashsale.HoldHeld:
			upper += h.qty
		}
	}
	return lower, upper
}

func (w *worker) reserve() error {
	user := w.users[w.rng.IntN(len(w.users))]
	line := w.sale.Lines[w.rng.IntN(len(w.sale.Lines))]
	qty := 1 + w.rng.IntN(2)
	r, err := w.a.Inventory.Reserve(context.Background(), inventory.ReserveInput{
		SaleID: w.sale.ID, ProductID: line.ProductID, UserID: user, Qty: qty})
	lower, upper := w.units(user, line.ProductID)
	switch reasonOf(err) {
	case "":
		if lower+qty > w.limit {
			return fmt.Errorf("reserve %d for %s granted with %d surely held, limit %d: %s",
				qty, user, lower, w.limit, w.describe(user, line.ProductID))
		}
		w.holds = append(w.holds, &modelHold{ref: r.Hold.HoldRef, user: user, qty: qty,
			amount: r.Hold.AmountMinor, deadline: r.Hold.Deadline, state: flashsale.HoldHeld})
	case flashsale.ReasonLimitReached:
		if upper+qty <= w.limit {
			return fmt.Errorf("reserve %d for %s refused as over the limit with at most %d held",
				qty, user, upper)
		}
	case flashsale.ReasonSoldOut, flashsale.ReasonInsufficientStock:
	default:
		return fmt.Errorf("reserve: %w", err)
	}
	return w.check(line.ProductID, user)
}

// describe lists a user's holds of a product in the model and in Redis.
func (w *worker) describe(user, product string) string {
	out := ""
	for _, h := range w.holds {
		if h.user == user && h.ref.ProductID == product {
			out += fmt.Sprintf("\n  model %s %s qty %d deadline in %s", h.ref.HoldID, h.state,
				h.qty, time.Until(h.deadline).Round(time.Millisecond))
			raw, _ := w.a.Redis.HGet(context.Background(),
				"fs:{"+w.sale.ID+":"+product+"}:res", h.ref.HoldID).Result()
			out += " redis " + raw
		}
	}
	return out
}

// pick returns a random hold of this worker still HELD in its model.
func (w *worker) pick() *modelHold {
	var held []*modelHold
	for _, h := range w.holds {
		if h.state == flashsale.HoldHeld && h.amount > 0 {
			held = append(held, h)
		}
	}
	if len(held) == 0 {
		return nil
	}
	return held[w.rng.IntN(len(held))]
}

func (w *worker) confirm() error {
	h := w.pick()
	if h == nil {
		return nil
	}
	pay := w.a.Payments.Create("", h.amount, "USD", flashsale.PaymentPaid)
	o, err := w.a.Inventory.Confirm(context.Background(), h.user, h.ref.SaleID, h.ref.HoldID, pay.ID)
	switch reasonOf(err) {
	case "":
		h.state, h.order = flashsale.HoldConfirmed, o.ID
	case flashsale.ReasonReservationExpired:
		if time.Now().Before(h.deadline) {
			return fmt.Errorf("confirm of %s refused as expired before its deadline", h.ref.HoldID)
		}
		h.state = flashsale.HoldExpired
	default:
		return fmt.Errorf("confirm %s: %w", h.ref.HoldID, err)
	}
	return w.check(h.ref.ProductID, h.user)
}

func (w *worker) release() error {
	h := w.pick()
	if h == nil {
		return nil
	}
	err := w.a.Inventory.Release(context.Background(), h.user, h.ref.SaleID, h.ref.HoldID)
	if err != nil {
		return fmt.Errorf("release %s: %w", h.ref.HoldID, err)
	}
	h.state = flashsale.HoldReleased
	return w.check(h.ref.ProductID, h.user)
}

// abandon leaves a hold to expire: the worker never touches it again.
func (w *worker) abandon() {
	if h := w.pick(); h != nil {
		h.amount = 0 // pick skips it from now on
	}
}

// check reads the product's counters atomically and the user's units.
func (w *worker) check(product, user string) error {
	ctx := context.Background()
	c, err := w.a.Inventory.Counters(ctx, w.sale.ID, product)
	if err != nil {
		return err
	}
	if c.Available < 0 || c.Held < 0 || c.Sold < 0 ||
		c.Available+c.Held+c.Sold+c.Discarded != c.Total {
		return fmt.Errorf("product %s counters broken: %+v", product, c)
	}
	n, err := w.a.Redis.HGet(ctx, "fs:{"+w.sale.ID+":"+product+"}:users", user).Int()
	if errors.Is(err, goredis.Nil) {
		n, err = 0, nil
	}
	if err != nil || n < 0 || n > w.limit {
		return fmt.Errorf("user %s holds %d of %s (err %v), limit %d", user, n, product, err, w.limit)
	}
	if w.rng.IntN(200) == 0 {
		return checkDatabase(w.a, w.sale)
	}
	return nil
}

func checkDatabase(a *app.App, sl *flashsale.Sale) error {
	var over int
	err := a.DB.QueryRow(context.Background(), `
		SELECT count(*) FROM flash_sale_products l
		WHERE sale_id = $1 AND (sold > total_qty OR sold <> (SELECT coalesce(sum(quantity), 0)
		    FROM orders o WHERE o.sale_id = l.sale_id AND o.product_id = l.product_id))`,
		sl.ID).Scan(&over)
	if err != nil || over > 0 {
		return fmt.Errorf("database: %d products above total or out of step with orders (%v)", over, err)
	}
	return nil
}

func checkFinal(t *testing.T, a *app.App, sl *flashsale.Sale, workers []*worker) {
	t.Helper()
	confirmed := map[string]int{}
	perUser := map[string]int{}
	holds := 0
	for _, w := range workers {
		for _, h := range w.holds {
			holds++
			if h.state == flashsale.HoldConfirmed {
				confirmed[h.ref.ProductID] += h.qty
				perUser[h.user+"/"+h.ref.ProductID] += h.qty
			}
		}
	}
	for k, n := range perUser {
		if n > 3 {
			t.Errorf("%s bought %d, limit 3", k, n)
		}
	}
	if err := checkDatabase(a, sl); err != nil {
		t.Fatal(err)
	}
	for _, l := range sl.Lines {
		c, err := a.Inventory.Counters(context.Background(), sl.ID, l.ProductID)
		if err != nil {
			t.Fatal(err)
		}
		var sold int
		_ = a.DB.QueryRow(context.Background(), `SELECT sold FROM flash_sale_products
			WHERE sale_id = $1 AND product_id = $2`, sl.ID, l.ProductID).Scan(&sold)
		if c.Held != 0 || c.Sold != confirmed[l.ProductID] || sold != c.Sold ||
			c.Available != c.Total-c.Sold {
			t.Errorf("%s: redis %+v, database sold %d, model confirmed %d", l.ProductID, c, sold,
				confirmed[l.ProductID])
		}
	}
	t.Logf("%d holds made, confirmed per product %v", holds, confirmed)
}

func reasonOf(err error) flashsale.Reason {
	if err == nil {
		return ""
	}
	var fe *flashsale.Error
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return "UNTYPED"
}
