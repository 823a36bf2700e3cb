package rpc_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/testenv"
)

// benchParallelism gives RunParallel 25 goroutines per core: 50 on this
// two-core machine, the concurrency of the load test.
const benchParallelism = 25

// benchClient keeps a connection per goroutine alive and speaks the Connect
// protocol with binary protobuf, like the load test.
func benchClient(url string) flashsalev1connect.ShopperServiceClient {
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128,
		IdleConnTimeout: time.Minute}
	return flashsalev1connect.NewShopperServiceClient(&http.Client{Transport: tr}, url)
}

// BenchmarkReserveHTTP measures Reserve through the whole HTTP handler path:
// vanguard, the interceptor (JWT verification, protovalidate), the rate
// limiter when on, the service and the Redis script, over loopback HTTP from
// a Connect client in the same process. Server and client share the cores.
func BenchmarkReserveHTTP(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int
	}{{"ratelimit=off", 0}, {"ratelimit=on", 20}} {
		cfg := testenv.Config(b)
		cfg.RateLimitPerSecond = tc.rate
		a := testenv.App(b, cfg)
		url := testenv.Server(b, a).URL
		b.Run(tc.name, func(b *testing.B) { benchReserveHTTP(b, cfg, a, url) })
	}
}

func benchReserveHTTP(b *testing.B, cfg config.Config, a *app.App, url string) {
	const stock, limit, perUser = 1_000_000, 100, 20
	qty := make([]int, b.N/(stock*9/10)+1)
	for i := range qty {
		qty[i] = stock
	}
	sl := testenv.Sale(b, a, limit, qty...)
	// Tokens are minted before the clock starts; users rotate so none
	// reaches the per-user limit or the rate limit's burst.
	tokens := make([]string, max(1000, b.N/perUser+1))
	prefix := testenv.ID("hu")
	for i := range tokens {
		tokens[i] = testenv.Token(b, cfg, prefix+"-"+strconv.Itoa(i), false)
	}
	client := benchClient(url)
	var seq atomic.Int64
	var failed atomic.Bool

	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(seq.Add(1))
			req := connect.NewRequest(&flashsalev1.ReserveRequest{SaleId: sl.ID,
				ProductId: sl.Lines[n%len(sl.Lines)].ProductID, Quantity: 1})
			req.Header().Set("Authorization", "Bearer "+tokens[n%len(tokens)])
			_, err := client.Reserve(context.Background(), req)
			if err != nil && failed.CompareAndSwap(false, true) {
				b.Errorf("reserve %d: got %v, want a hold", n, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkBrowseHTTP measures the public reads over HTTP: a sale's products
// with live stock (GetSaleProducts, what a shopper polls), and the active
// sales list (ListActiveSales), which decodes every sale cached in Redis.
func BenchmarkBrowseHTTP(b *testing.B) {
	cfg := testenv.Config(b)
	a := testenv.App(b, cfg)
	url := testenv.Server(b, a).URL
	sl := testenv.Sale(b, a, 2, 1000, 1000, 1000, 1000)
	client := benchClient(url)
	calls := map[string]func() error{
		"products": func() error {
			_, err := client.GetSaleProducts(context.Background(),
				connect.NewRequest(&flashsalev1.GetSaleProductsRequest{SaleId: sl.ID}))
			return err
		},
		"active": func() error {
			_, err := client.ListActiveSales(context.Background(),
				connect.NewRequest(&flashsalev1.ListActiveSalesRequest{}))
			return err
		},
	}
	for _, name := range []string{"products", "active"} {
		b.Run(name, func(b *testing.B) {
			var failed atomic.Bool
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := calls[name](); err != nil && failed.CompareAndSwap(false, true) {
						b.Errorf("%s: %v", name, err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
