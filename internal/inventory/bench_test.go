package inventory_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/testenv"
)

// benchParallelism gives RunParallel 25 goroutines per core: 50 on this
// two-core machine, the concurrency of the load test and of the measured
// raw EVALSHA anchor, so the numbers compare.
const benchParallelism = 25

// BenchmarkReserve measures inventory.Service.Reserve on the real Redis of
// the local stack: the hold script plus the service around it, without
// HTTP. Every call takes a unit: stock is large and users rotate so none
// reaches the per-user limit or, with the limiter on, the rate limit.
func BenchmarkReserve(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int
	}{{"ratelimit=off", 0}, {"ratelimit=on", 20}} {
		cfg := testenv.Config(b)
		cfg.RateLimitPerSecond = tc.rate
		a := testenv.App(b, cfg)
		b.Run(tc.name, func(b *testing.B) { benchReserve(b, a) })
	}
}

func benchReserve(b *testing.B, a *app.App) {
	const stock, limit, perUser = 1_000_000, 100, 20
	qty := make([]int, b.N/(stock*9/10)+1)
	for i := range qty {
		qty[i] = stock
	}
	sl := testenv.Sale(b, a, limit, qty...)
	users := max(1000, b.N/perUser+1)
	prefix := testenv.ID("bu")
	ctx := context.Background()
	var seq atomic.Int64
	var failed atomic.Bool

	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(seq.Add(1))
			line := sl.Lines[n%len(sl.Lines)]
			_, err := a.Inventory.Reserve(ctx, inventory.ReserveInput{SaleID: sl.ID,
				ProductID: line.ProductID, UserID: prefix + "-" + strconv.Itoa(n%users), Qty: 1})
			if err != nil && failed.CompareAndSwap(false, true) {
				b.Errorf("reserve %d: got %v, want a hold", n, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
