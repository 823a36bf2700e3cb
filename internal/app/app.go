// Package app wires the adapters and services of one process from its
// configuration. The local server, the Lambda functions and the tests all
// build through it, so they run the same code.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/analytics"
	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/payment"
	"github.com/flashsale/flashsale/internal/postgres"
	"github.com/flashsale/flashsale/internal/redis"
	"github.com/flashsale/flashsale/internal/rpc"
	"github.com/flashsale/flashsale/internal/sale"
)

// App is a wired process.
type App struct {
	Config    config.Config
	Log       *slog.Logger
	DB        *pgxpool.Pool
	Redis     goredis.UniversalClient
	Sales     *sale.Service
	Inventory *inventory.Service
	Payments  *payment.Simulator
	Auth      *auth.Authenticator
	// Reports serves the admin's post-sale report where the process has the
	// analytics store (the local server, the admin function); else nil.
	Reports *analytics.Reports
}

// Options tune what New builds.
type Options struct {
	// Migrate applies database migrations before anything else.
	Migrate bool
	// DBConns caps the pool; Lambda functions keep it small.
	DBConns int32
	// RedisPool caps the Redis pool; 0 keeps go-redis's default.
	RedisPool int
	// Payments is the payment provider to share; nil makes a new simulator.
	Payments *payment.Simulator
}

// New connects to PostgreSQL and Redis and builds the services.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) (*App, error) {
	if err := ResolveSecrets(ctx, &cfg); err != nil {
		return nil, err
	}
	if o.Migrate {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return nil, err
		}
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, o.DBConns)
	if err != nil {
		return nil, err
	}
	rc, err := redis.NewClient(redis.Options{URL: cfg.RedisURL, Cluster: cfg.RedisCluster,
		PoolSize: o.RedisPool})
	if err != nil {
		db.Close()
		return nil, err
	}
	if o.Payments == nil {
		o.Payments = payment.NewSimulator()
	}
	a := &App{Config: cfg, Log: log, DB: db, Redis: rc, Payments: o.Payments,
		Auth: auth.NewAuthenticator(auth.NewHS256(cfg.JWTSecret))}
	cache := redis.NewSaleCache(rc)
	a.Sales = sale.NewService(postgres.NewCatalog(db), postgres.NewSaleStore(db), cache, log)
	var limiter flashsale.Limiter
	if cfg.RateLimitPerSecond > 0 {
		limiter = redis.NewLimiter(rc, cfg.RateLimitPerSecond, cfg.RateLimitBurst)
	}
	a.Inventory = inventory.NewService(redis.NewHoldStore(rc), postgres.NewOrderStore(db),
		a.Payments, limiter, cache,
		inventory.Config{TTL: cfg.ReservationTTL, Grace: cfg.ConfirmGrace}, log)
	return a, nil
}

// Handler serves the chosen API surfaces of this app.
func (a *App) Handler(surfaces rpc.Surface) (http.Handler, error) {
	return rpc.NewHandler(rpc.Deps{Sales: a.Sales, Inventory: a.Inventory, Payments: a.Payments,
		Auth: a.Auth, Log: a.Log, Ready: a.Ready, Reports: a.Reports}, surfaces)
}

// Ready pings PostgreSQL and Redis.
func (a *App) Ready(ctx context.Context) error {
	return errors.Join(a.DB.Ping(ctx), a.Redis.Ping(ctx).Err())
}

// Close releases the connections.
func (a *App) Close() {
	a.DB.Close()
	_ = a.Redis.Close()
}

// NewLogger returns the JSON logger every process uses.
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l}))
}

// Sweep reloads Redis when it came back empty, removes the sales that ended
// over a day ago from it, then reclaims expired holds and resolves
// interrupted confirms of every sale that may still hold units.
// The local server runs it on a ticker, the sweeper function on a schedule.
func (a *App) Sweep(ctx context.Context) (inventory.SweepResult, error) {
	n, err := a.Sales.EnsureLoaded(ctx)
	if err != nil {
		return inventory.SweepResult{}, fmt.Errorf("reload redis: %w", err)
	}
	if n > 0 {
		a.Log.InfoContext(ctx, "sales reloaded into redis", "sales", n)
	}
	sales, err := a.Sales.Cached(ctx)
	if err != nil {
		return inventory.SweepResult{}, err
	}
	// A failed clean-up must not hold back the reclaiming of expired holds.
	now := time.Now()
	if n, err := a.Sales.RetireEnded(ctx, sales, now); err != nil {
		a.Log.WarnContext(ctx, "retiring ended sales failed", "retired", n, "err", err.Error())
	} else if n > 0 {
		a.Log.InfoContext(ctx, "ended sales removed from redis", "sales", n)
	}
	return a.Inventory.Sweep(ctx, a.Inventory.Sweepable(sales, now))
}
