package redis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// order records the keys that pipelines send, in the order sent.
type order struct {
	mu   sync.Mutex
	keys []string
}

func (o *order) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (o *order) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (o *order) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		o.mu.Lock()
		for _, c := range cmds {
			if args := c.Args(); len(args) > 1 {
				o.keys = append(o.keys, fmt.Sprint(args[1]))
			}
		}
		o.mu.Unlock()
		return next(ctx, cmds)
	}
}

// A reload writes a product's stock only after every shopper's count: the
// scripts take no hold while the stock is missing, so a reserve can never
// slip in between and start a count that the reload then keeps.
func TestLoadWritesStockAfterTheShoppersCounts(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		rec := &order{}
		c, err := NewClient(Options{URL: testURL})
		if tg.cluster {
			c, err = NewClient(Options{URL: clusterURL(testClusterAddrs), Cluster: true})
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
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
