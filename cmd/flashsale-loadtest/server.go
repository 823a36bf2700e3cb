package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime/pprof"
	"time"

	"github.com/flashsale/flashsale/internal/app"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/loadtest"
	"github.com/flashsale/flashsale/internal/rpc"
)

// startServer serves every surface of the app on a free loopback port, the
// way cmd/flashsale-server does (same wiring, same pools, rate limit as
// configured), minus the sweeper: expired holds are still reclaimed by the
// reserve script of the next shopper. Its logs go to stderr from warn up.
func startServer(ctx context.Context, stderr io.Writer, dbConns int) (string, func(), error) {
	cfg, err := config.Load()
	if err != nil {
		return "", nil, err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log, app.Options{Migrate: true, DBConns: int32(dbConns)})
	if err != nil {
		return "", nil, err
	}
	h, err := a.Handler(rpc.ShopperSurface | rpc.AdminSurface | rpc.PaymentSimulatorSurface)
	if err != nil {
		a.Close()
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		a.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// profile starts the pprof endpoint and the CPU profile that were asked
// for; the returned function stops them.
func (o options) profile(stderr io.Writer) (func(), error) {
	var stops []func()
	stopAll := func() {
		for _, f := range stops {
			f()
		}
	}
	if o.pprofAddr != "" {
		if err := loadtest.CheckLoopback("-pprof", "http://"+o.pprofAddr); err != nil {
			return stopAll, err
		}
		ln, err := net.Listen("tcp", o.pprofAddr)
		if err != nil {
			return stopAll, err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		fmt.Fprintf(stderr, "pprof on http://%s/debug/pprof/\n", ln.Addr())
		stops = append(stops, func() { _ = srv.Close() })
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return stopAll, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return stopAll, err
		}
		stops = append(stops, func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		})
	}
	return stopAll, nil
}
