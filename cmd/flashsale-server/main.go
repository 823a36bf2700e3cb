// Command flashsale-server is the all-in-one local server: every API
// surface, the payment simulator and the expiry sweeper in one process, on
// the local stack that localstack/up.sh starts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/postgres"
	"github.com/flashsale/flashsale/internal/rpc"
	"github.com/flashsale/flashsale/internal/sale"
)

func main() {
	seed := flag.Bool("seed-example", false,
		"add the design's example catalog and sale FS1001 if absent")
	migrateOnly := flag.Bool("migrate-only", false, "apply database migrations and exit")
	flag.Parse()
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := app.NewLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *migrateOnly {
		err = postgres.Migrate(ctx, cfg.DatabaseURL)
	} else {
		err = run(ctx, cfg, log, *seed)
	}
	if err != nil {
		log.Error("server stopped", "err", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config.Config, log *slog.Logger, seed bool) error {
	a, err := app.New(ctx, cfg, log, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	if n, err := a.Sales.Warm(ctx); err != nil {
		return fmt.Errorf("warm redis: %w", err)
	} else if n > 0 {
		log.Info("sales loaded into redis", "sales", n)
	}
	if seed {
		if err := seedExample(ctx, a.Sales, log); err != nil {
			return err
		}
	}
	adb, err := pipeline.Analytics(ctx, cfg, 4)
	if err != nil {
		return fmt.Errorf("analytics store: %w", err)
	}
	defer adb.Close()
	a.Reports = pipeline.Reports(a, adb)
	h, err := a.Handler(rpc.ShopperSurface | rpc.AdminSurface | rpc.PaymentSimulatorSurface)
	if err != nil {
		return err
	}
	go sweep(ctx, a, cfg.SweepInterval)
	if cfg.LocalEvents {
		go runEvents(ctx, a, adb)
	}

	// A slow client holds a connection for ReadTimeout at most: without it a
	// body sent a byte at a time would keep it forever.
	srv := &http.Server{Addr: cfg.Addr, Handler: h, Protocols: new(http.Protocols),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true) // gRPC and buf curl without TLS
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving", "addr", cfg.Addr)
	printExamples(cfg.Addr)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sweepWarnEvery is how often a sweep failure that persists (Redis down)
// is logged again; the ticker fails every interval.
const sweepWarnEvery = 30 * time.Second

// sweep reclaims expired holds on a ticker, so shown availability is at
// most one interval stale even when nobody reserves that product.
func sweep(ctx context.Context, a *app.App, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var failures failureLog
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		failures.record(a.Log, sweepOnce(ctx, a), time.Now())
	}
}

// sweepOnce runs one sweep and logs what it changed.
func sweepOnce(ctx context.Context, a *app.App) error {
	r, err := a.Sweep(ctx)
	if r.Expired+r.Finalized+r.Aborted+r.CaughtUp > 0 {
		a.Log.Info("sweep", "expired", r.Expired, "finalized", r.Finalized,
			"aborted", r.Aborted, "caught_up", r.CaughtUp)
	}
	return err
}

// failureLog logs the first of a run of sweep failures, then at most once
// every sweepWarnEvery, and one line when the sweep succeeds again.
type failureLog struct {
	failures      int
	since, logged time.Time
}

func (f *failureLog) record(log *slog.Logger, err error, now time.Time) {
	if err == nil {
		if f.failures > 0 {
			log.Info("sweep recovered", "failures", f.failures,
				"failed_for_ms", now.Sub(f.since).Milliseconds())
		}
		*f = failureLog{}
		return
	}
	if f.failures == 0 {
		f.since = now
	}
	f.failures++
	if f.failures == 1 || now.Sub(f.logged) >= sweepWarnEvery {
		f.logged = now
		first, n := firstError(err)
		log.Warn("sweep failed", "err", first, "errors", n, "failures", f.failures,
			"failing_for_ms", now.Sub(f.since).Milliseconds())
	}
}

// firstError keeps one line of a joined error and counts its parts: with
// Redis down the sweep fails once per sale, hundreds of the same line.
func firstError(err error) (string, int) {
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		return j.Unwrap()[0].Error(), len(j.Unwrap())
	}
	return err.Error(), 1
}

// runEvents runs the event relay and a poller that feeds the stream's
// consumers (event log, metrics, notifications), as Lambda does in AWS.
func runEvents(ctx context.Context, a *app.App, adb *pgxpool.Pool) {
	err := pipeline.RunLocal(ctx, a, adb)
	if err != nil && ctx.Err() == nil {
		a.Log.Error("event pipeline stopped", "err", err.Error())
	}
}

// seedExample adds the design's example: products P101 and P102 and the
// sale FS1001, 40% off, running from now for two hours.
func seedExample(ctx context.Context, sales *sale.Service, log *slog.Logger) error {
	err := sales.UpsertProducts(ctx, []flashsale.Product{
		{ID: "P101", Name: "Wireless Earbuds", BasePriceMinor: 1000, Currency: "USD"},
		{ID: "P102", Name: "Smart Watch", BasePriceMinor: 2500, Currency: "USD"},
	})
	if err != nil {
		return fmt.Errorf("seed catalog: %w", err)
	}
	if _, _, err := sales.Get(ctx, "FS1001"); err == nil {
		log.Info("example sale exists", "sale_id", "FS1001")
		return nil
	} else if flashsale.ErrorKind(err) != flashsale.KindNotFound {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	_, err = sales.Create(ctx, sale.CreateInput{
		ID: "FS1001", Start: now, End: now.Add(2 * time.Hour), DiscountPercent: 40,
		Lines: []sale.LineInput{{ProductID: "P101", TotalQty: 1000},
			{ProductID: "P102", TotalQty: 500}},
	})
	if err != nil {
		return fmt.Errorf("seed sale: %w", err)
	}
	log.Info("example sale created", "sale_id", "FS1001")
	return nil
}

func printExamples(addr string) {
	fmt.Fprintf(os.Stderr, `
Flash sale server on http://%[1]s

  ADMIN=$(make -s token ADMIN=1); SHOPPER=$(make -s token USER=U9001)

  curl -s http://%[1]s/api/flash-sale/active
  curl -s http://%[1]s/api/flash-sale/FS1001/products
  curl -s -X POST http://%[1]s/api/flash-sale/FS1001/reserve \
    -H "Authorization: Bearer $SHOPPER" -H 'Content-Type: application/json' \
    -d '{"userId":"U9001","productId":"P101","quantity":1}'
  curl -s -X POST http://%[1]s/flashsale.v1.ShopperService/ListActiveSales \
    -H 'Content-Type: application/json' -H 'Connect-Protocol-Version: 1' -d '{}'

`, addr)
}
