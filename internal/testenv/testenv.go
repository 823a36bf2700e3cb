// Package testenv builds the real service for tests: the PostgreSQL and
// Redis of the local stack (localstack/up.sh, which `make test` runs), never
// mocks. Tests isolate themselves with unique ids instead of wiping data, so
// packages can run in parallel against the same stack.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/redis"
	"github.com/flashsale/flashsale/internal/rpc"
	"github.com/flashsale/flashsale/internal/sale"
)

var migrated sync.Once

// Config returns the stack's configuration with rate limits off, so tests
// that hammer one user measure the engine, not the limiter.
func Config(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.RateLimitPerSecond = 0
	return cfg
}

// App wires the service on the local stack. It fails, never skips, when the
// stack is down: run `make test` (or localstack/up.sh) first.
func App(t testing.TB, cfg config.Config) *app.App {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	migrated.Do(func() { err = migrate(ctx, cfg) })
	if err != nil {
		t.Fatalf("migrate %s: %v (is the local stack up? run localstack/up.sh)",
			redact(cfg.DatabaseURL), err)
	}
	a, err := app.New(ctx, cfg, Logger(t), app.Options{DBConns: 20})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	t.Cleanup(a.Close)
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("local stack not reachable (run localstack/up.sh): %v", err)
	}
	// The server loads every live sale into Redis at start and marks it
	// loaded; without the mark, a fresh Redis answers "reloading" to every
	// unknown sale. Tests create each sale they use through the app, which
	// loads it, so they only need the mark, not a load of every test sale
	// left in the database by earlier runs.
	// Packages starting at once may mark it together: one of them wins, the
	// others see its mark.
	cache := redis.NewSaleCache(a.Redis)
	for attempt := 1; ; attempt++ {
		loaded, err := cache.Loaded(ctx)
		if err == nil && loaded {
			return a
		}
		token, err := cache.BeginReload(ctx)
		if err == nil {
			err = cache.MarkLoaded(ctx, token)
		}
		if err == nil {
			return a
		}
		if attempt == 10 {
			t.Fatalf("mark redis loaded: %v", err)
		}
		time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
	}
}

// OwnRedisDB points cfg at a Redis database of its own, emptied, for a test
// that empties Redis the way a restart does or counts everything in it: the
// other packages running at the same time keep their data and their loaded
// marker, and nothing an earlier run left there (a failed run's holds)
// changes the counts.
func OwnRedisDB(t testing.TB, cfg config.Config, db int) config.Config {
	t.Helper()
	u, err := url.Parse(cfg.RedisURL)
	if err != nil || cfg.RedisCluster {
		t.Fatalf("REDIS_URL %q: want a single-node redis:// URL", cfg.RedisURL)
	}
	u.Path = "/" + strconv.Itoa(db)
	cfg.RedisURL = u.String()
	opts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatalf("REDIS_URL %q: %v", cfg.RedisURL, err)
	}
	c := goredis.NewClient(opts)
	defer func() { _ = c.Close() }()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("empty redis database %d (is the local stack up?): %v", db, err)
	}
	return cfg
}

func migrate(ctx context.Context, cfg config.Config) error {
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)),
		app.Options{Migrate: true, DBConns: 1})
	if err != nil {
		return err
	}
	a.Close()
	return nil
}

// Server serves every surface of a over HTTP for the test's lifetime.
func Server(t testing.TB, a *app.App) *httptest.Server {
	t.Helper()
	h, err := a.Handler(rpc.ShopperSurface | rpc.AdminSurface | rpc.PaymentSimulatorSurface)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Token mints a bearer token for a user, with the admin role when asked.
func Token(t testing.TB, cfg config.Config, user string, admin bool) string {
	t.Helper()
	tok, err := auth.NewHS256(cfg.JWTSecret).Mint(user, admin, time.Hour)
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}

// ID returns a fresh id with a prefix, valid as a sale or product id.
func ID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Logger discards logs unless the test runs verbosely.
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Sale creates products and a sale on them, active from a second ago for an
// hour, and returns it. qty gives each product's stock; prices are 1000,
// 2000, ... minor units.
func Sale(t testing.TB, a *app.App, limit int, qty ...int) *flashsale.Sale {
	t.Helper()
	ctx := context.Background()
	id := ID("S")
	in := sale.CreateInput{ID: id, Start: time.Now().Add(-time.Second),
		End: time.Now().Add(time.Hour), DiscountPercent: 40, PerUserLimit: limit}
	var products []flashsale.Product
	for i, q := range qty {
		p := flashsale.Product{ID: ID("P"), Name: "Test product", Currency: "USD",
			BasePriceMinor: int64(1000 * (i + 1))}
		products = append(products, p)
		in.Lines = append(in.Lines, sale.LineInput{ProductID: p.ID, TotalQty: q})
	}
	if err := a.Sales.UpsertProducts(ctx, products); err != nil {
		t.Fatalf("upsert products: %v", err)
	}
	s, err := a.Sales.Create(ctx, in)
	if err != nil {
		t.Fatalf("create sale: %v", err)
	}
	return s
}

// redact hides the password of a URL in messages.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); at > 0 {
		if colon := strings.Index(url, "://"); colon > 0 {
			return url[:colon+3] + "…" + url[at:]
		}
	}
	return url
}

// Redises returns the configuration twice: on the standalone Redis and on
// the local three-master cluster, so a test proves the scripts cluster-safe.
func Redises(t testing.TB) map[string]config.Config {
	t.Helper()
	standalone := Config(t)
	cluster := standalone
	addrs := strings.Split(os.Getenv("REDIS_CLUSTER_ADDRS"), ",")
	if addrs[0] == "" {
		t.Fatal("REDIS_CLUSTER_ADDRS is empty: run the tests through make test " +
			`or eval "$(localstack/env.sh)"`)
	}
	cluster.RedisURL = "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		cluster.RedisURL += sep + "addr=" + a
	}
	cluster.RedisCluster = true
	return map[string]config.Config{"standalone": standalone, "cluster": cluster}
}
