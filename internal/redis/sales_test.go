package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// pipelineHook leaves dials and single commands alone; the hooks below
// embed it and watch pipelines only.
type pipelineHook struct{}

func (pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// order records the keys that pipelines send, in the order sent.
type order struct {
	pipelineHook
	mu   sync.Mutex
	keys []string
}

func (o *order) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		o.mu.Lock()
		for _, c := range cmds {
			o.keys = append(o.keys, firstKey(c))
		}
		o.mu.Unlock()
		return next(ctx, cmds)
	}
}

// firstKey is the first key a command names (a script's too).
func firstKey(c redis.Cmder) string {
	args := c.Args()
	switch {
	case c.Name() == "evalsha" && len(args) > 3:
		return fmt.Sprint(args[3])
	case len(args) > 1:
		return fmt.Sprint(args[1])
	}
	return ""
}

// A reload writes a product's stock only after every shopper's count: the
// scripts take no hold while the stock is missing, so a reserve can never
// slip in between and start a count that the reload then keeps.
func TestLoadWritesStockAfterTheShoppersCounts(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		rec := &order{}
		c := clientLike(t, tg)
		c.AddHook(rec)

		now := time.Now().UTC()
		sale := &flashsale.Sale{ID: "load" + randomHex(6), Start: now.Add(-time.Minute),
			End: now.Add(time.Hour), PerUserLimit: 2, State: flashsale.StateScheduled}
		for _, p := range []string{"p1", "p2"} {
			bought := map[string]int{}
			for i := range 2500 { // past a batch of the pipeline
				bought[fmt.Sprintf("u%d", i)] = 1
			}
			sale.Lines = append(sale.Lines, flashsale.Line{ProductID: p, Currency: "EUR",
				TotalQty: 10_000, SalePriceMinor: 100, SoldQty: 2500, Bought: bought})
		}
		t.Cleanup(func() {
			for _, l := range sale.Lines {
				_ = tg.c.Del(context.Background(), keysFor(sale.ID, l.ProductID).all()...).Err()
			}
			_ = tg.c.HDel(context.Background(), salesIndexKey, sale.ID).Err()
		})
		if err := NewSaleCache(c).Load(t.Context(), sale); err != nil {
			t.Fatalf("load: %v", err)
		}
		for _, l := range sale.Lines {
			k := keysFor(sale.ID, l.ProductID)
			stock := slices.Index(rec.keys, k.stock)
			lastCount := -1
			for i, key := range rec.keys {
				if key == k.users {
					lastCount = i
				}
			}
			if stock < 0 || lastCount < 0 || stock < lastCount {
				t.Errorf("%s: stock written at %d, last shopper count at %d; want stock last",
					l.ProductID, stock, lastCount)
			}
		}
	})
}

// dropKeys deletes a sale product's keys before the nth pipeline that
// writes them, as a Redis restarting empty in the middle of a load would.
type dropKeys struct {
	pipelineHook
	c     redis.UniversalClient
	keys  []string
	nth   int
	count int
}

func (d *dropKeys) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool {
			return slices.Contains(d.keys, firstKey(c))
		}) {
			return next(ctx, cmds) // the client's own, e.g. a connection's setup
		}
		if d.count++; d.count == d.nth {
			if err := d.c.Del(ctx, d.keys...).Err(); err != nil {
				return err
			}
		}
		return next(ctx, cmds)
	}
}

// A product whose shoppers' counts Redis lost in the middle of its load
// stays closed to reserves and the load fails; the next load writes it
// whole and opens it.
func TestLoadInterruptedByALossStaysClosed(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		now := time.Now().UTC()
		sale := &flashsale.Sale{ID: "lost" + randomHex(6), Start: now.Add(-time.Minute),
			End: now.Add(time.Hour), PerUserLimit: 2, State: flashsale.StateScheduled}
		bought := map[string]int{}
		for i := range 2500 { // three pipelines: the loss comes before the second
			bought[fmt.Sprintf("u%d", i)] = 2
		}
		sale.Lines = []flashsale.Line{{ProductID: "p1", Currency: "EUR", TotalQty: 10_000,
			SalePriceMinor: 100, SoldQty: 5000, Bought: bought}}
		k := keysFor(sale.ID, "p1")
		t.Cleanup(func() {
			_ = tg.c.Del(context.Background(), k.all()...).Err()
			_ = tg.c.HDel(context.Background(), salesIndexKey, sale.ID).Err()
		})

		c := clientLike(t, tg)
		c.AddHook(&dropKeys{c: tg.c, keys: k.all(), nth: 2})
		err := NewSaleCache(c).Load(t.Context(), sale)
		if flashsale.ErrorKind(err) != flashsale.KindUnavailable {
			t.Fatalf("interrupted load: got %v, want unavailable", err)
		}
		if n := tg.c.Exists(t.Context(), k.stock).Val(); n != 0 {
			t.Fatal("the product opened with part of its shoppers' counts")
		}
		out, err := NewHoldStore(tg.c).Reserve(t.Context(), reserveInput(newHold(
			flashsale.HoldRef{SaleID: sale.ID, ProductID: "p1"}), "u1", 1))
		if err != nil || out.Result != flashsale.StockMissing {
			t.Fatalf("reserve on the closed product: got %v %v, want stock missing", out.Result, err)
		}

		if err := NewSaleCache(tg.c).Load(t.Context(), sale); err != nil {
			t.Fatalf("next load: %v", err)
		}
		if n := tg.c.HLen(t.Context(), k.users).Val(); n != 2500 {
			t.Errorf("after the next load: %d shoppers' counts, want 2500", n)
		}
		if stock, _ := tg.c.Get(t.Context(), k.stock).Int(); stock != 5000 {
			t.Errorf("after the next load: stock %d, want 5000", stock)
		}
		if n := tg.c.HExists(t.Context(), k.meta, ":loading").Val(); n {
			t.Error("the load's token is left in meta")
		}
	})
}

// The loaded marker is set only if Redis kept the reload's token: a reload
// that Redis lost its data under does not mark it loaded.
func TestMarkLoadedNeedsTheReloadsToken(t *testing.T) {
	// A database of its own: the marker is global, and other packages'
	// tests rely on theirs.
	opts, err := redis.ParseURL(testURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = 13
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cache := NewSaleCache(c)

	token, err := cache.BeginReload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FlushDB(ctx).Err(); err != nil { // lost during the reload
		t.Fatal(err)
	}
	if err := cache.MarkLoaded(ctx, token); flashsale.ErrorKind(err) != flashsale.KindUnavailable {
		t.Fatalf("mark after a loss: got %v, want unavailable", err)
	}
	if ok, err := cache.Loaded(ctx); err != nil || ok {
		t.Fatalf("loaded after a lost reload: got %v %v, want false", ok, err)
	}

	// Two reloads at once: the one overtaken waits for the other's mark.
	first, err1 := cache.BeginReload(ctx)
	second, err2 := cache.BeginReload(ctx)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if err := cache.MarkLoaded(ctx, first); flashsale.ErrorKind(err) != flashsale.KindUnavailable {
		t.Fatalf("mark of an overtaken reload: got %v, want unavailable", err)
	}
	if err := cache.MarkLoaded(ctx, second); err != nil {
		t.Fatalf("mark of the latest reload: %v", err)
	}
	if err := cache.MarkLoaded(ctx, first); err != nil {
		t.Fatalf("mark of the overtaken reload after the other's: %v", err)
	}
	if ok, err := cache.Loaded(ctx); err != nil || !ok {
		t.Fatalf("after a whole reload: loaded %v (%v), want true", ok, err)
	}
}

// clientLike opens a client to the same deployment as tg, for hooks.
func clientLike(t *testing.T, tg target) redis.UniversalClient {
	t.Helper()
	c, err := NewClient(Options{URL: testURL})
	if tg.cluster {
		c, err = NewClient(Options{URL: clusterURL(testClusterAddrs), Cluster: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// flushScripts drops the script cache before the first pipeline a client
// sends, as another process's SCRIPT FLUSH between a load's steps would.
type flushScripts struct {
	pipelineHook
	c    redis.UniversalClient
	done bool
}

func (f *flushScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !f.done && slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return c.Name() == "evalsha" }) {
			f.done = true
			if err := f.c.ScriptFlush(ctx).Err(); err != nil {
				return err
			}
		}
		return next(ctx, cmds)
	}
}

// A load whose script the cache drops midway sends it again and opens the
// product.
func TestLoadSurvivesAScriptFlush(t *testing.T) {
	// SCRIPT FLUSH only drops cached scripts, so it is safe on a shared
	// server; it is done on the standalone one only.
	tg := targets(t)[0]
	now := time.Now().UTC()
	sale := &flashsale.Sale{ID: "flush" + randomHex(6), Start: now.Add(-time.Minute),
		End: now.Add(time.Hour), PerUserLimit: 2, State: flashsale.StateScheduled,
		Lines: []flashsale.Line{{ProductID: "p1", Currency: "EUR", TotalQty: 10,
			SalePriceMinor: 100, SoldQty: 1, Bought: map[string]int{"u1": 1}}}}
	k := keysFor(sale.ID, "p1")
	t.Cleanup(func() {
		_ = tg.c.Del(context.Background(), k.all()...).Err()
		_ = tg.c.HDel(context.Background(), salesIndexKey, sale.ID).Err()
	})
	c := clientLike(t, tg)
	c.AddHook(&flushScripts{c: tg.c})
	if err := NewSaleCache(c).Load(t.Context(), sale); err != nil {
		t.Fatalf("load across a script flush: %v", err)
	}
	if stock, err := tg.c.Get(t.Context(), k.stock).Int(); err != nil || stock != 9 {
		t.Fatalf("stock after the load: %d (%v), want 9", stock, err)
	}
}
