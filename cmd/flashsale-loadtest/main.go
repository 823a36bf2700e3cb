// Command flashsale-loadtest loads a flash-sale server with shoppers and
// reports throughput, latency and the truth in PostgreSQL and Redis, next to
// a raw Redis EVALSHA and a PostgreSQL row-lock baseline measured in the same
// run. It targets a running server (make run) or, with -server inproc, one it
// starts in its own process on the local stack.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/flashsale/flashsale/internal/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes: a run whose checks failed is 1, bad usage is 2. Speed never
// decides the exit code; only correctness does.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "flashsale-loadtest:", err)
		return exitUsage
	}
	stopProfiles, err := o.profile(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "flashsale-loadtest:", err)
		return exitUsage
	}
	defer stopProfiles()

	if o.cfg.ServerURL == inproc {
		url, stopServer, err := startServer(ctx, stderr, o.dbConns)
		if err != nil {
			fmt.Fprintln(stderr, "flashsale-loadtest: in-process server:", err)
			return exitFailed
		}
		defer stopServer()
		o.cfg.ServerURL, o.cfg.ServerInProcess = url, true
	}

	res, err := loadtest.Run(ctx, o.cfg, stderr)
	if res != nil {
		res.Print(stdout)
		if werr := o.write(res, stdout); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "flashsale-loadtest:", err)
		return exitFailed
	}
	return verdict(res, stdout)
}

// write saves the JSON report and the chart and prints where they went.
func (o options) write(res *loadtest.Result, stdout io.Writer) error {
	var errs []error
	if o.out != "" {
		errs = append(errs, res.WriteJSON(o.out))
		fmt.Fprintln(stdout, "\nResults:", abs(o.out))
	}
	if o.chart != "" {
		errs = append(errs, res.WriteChart(o.chart))
		fmt.Fprintln(stdout, "Chart:  ", abs(o.chart))
	}
	return errors.Join(errs...)
}

// verdict fails the run when anything was oversold or a truth check failed
// or did not run.
func verdict(res *loadtest.Result, stdout io.Writer) int {
	switch {
	case !res.Truth.Ran:
		fmt.Fprintln(stdout, "FAIL: the truth checks did not run")
	case res.Oversold != 0:
		fmt.Fprintf(stdout, "FAIL: %d units oversold\n", res.Oversold)
	case !res.Truth.OK:
		fmt.Fprintf(stdout, "FAIL: %d truth checks failed\n", len(res.Truth.Problems))
	default:
		if res.Smoke {
			fmt.Fprintln(stdout, "smoke: oversold 0, truth checks ran and passed")
		}
		return exitOK
	}
	return exitFailed
}

func abs(path string) string {
	if p, err := filepath.Abs(path); err == nil {
		return p
	}
	return path
}
