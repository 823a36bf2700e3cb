package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/loadtest"
)

// inproc as the server URL starts a server inside the load test process.
const inproc = "inproc"

var errHelp = errors.New("help requested")

// options are the parsed command line.
type options struct {
	cfg        loadtest.Config
	out, chart string
	pprofAddr  string
	cpuProfile string
	// dbConns sizes the in-process server's PostgreSQL pool; 0 keeps what
	// cmd/flashsale-server uses (pgxpool's default).
	dbConns int
}

// parse reads the flags over the chosen preset: a preset sets the defaults
// and any flag given explicitly wins over it. The stores and the token
// secret come from the environment through internal/config, like the
// server's.
func parse(args []string, stderr io.Writer) (options, error) {
	preset, err := presetOf(args)
	if err != nil {
		return options{}, err
	}
	o := options{cfg: loadtest.Default(), out: "loadtest-results.json",
		chart: "loadtest-results.html"}
	if err := loadtest.ApplyPreset(&o.cfg, preset); err != nil {
		return options{}, err
	}
	// Bars are for people watching; a log file or CI gets the table only,
	// unless -progress asks for them.
	o.cfg.Progress = o.cfg.Progress && isTerminal(stderr)
	fs := flagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return options{}, errHelp
		}
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	env, err := config.Load()
	if err != nil {
		return options{}, err
	}
	o.cfg.DatabaseURL, o.cfg.RedisURL = env.DatabaseURL, env.RedisURL
	o.cfg.RedisCluster, o.cfg.JWTSecret = env.RedisCluster, env.JWTSecret
	if o.cfg.ServerURL != inproc {
		if err := loadtest.CheckLoopback("-server", o.cfg.ServerURL); err != nil {
			return options{}, err
		}
	}
	return o, o.cfg.Validate()
}

// presetOf finds -preset (or -smoke) before the real parse.
func presetOf(args []string) (string, error) {
	var o options
	o.cfg = loadtest.Default()
	fs := flagSet(&o, io.Discard)
	if err := fs.Parse(args); err != nil && !errors.Is(err, flag.ErrHelp) {
		return "", err
	}
	if o.cfg.Smoke {
		return "smoke", nil
	}
	return o.cfg.Preset, nil
}

func flagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flashsale-loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	c := &o.cfg
	fs.StringVar(&c.Preset, "preset", c.Preset,
		"default, seed (1,000 units, 20,000 shoppers arriving within 2s) or smoke")
	fs.BoolVar(&c.Smoke, "smoke", c.Smoke,
		"short correctness run for make test: small stock, low concurrency, no speed checks")
	fs.StringVar(&c.ServerURL, "server", c.ServerURL,
		"base URL of a running server (loopback only), or "+inproc+
			" to start one in this process on the local stack")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency,
		"workers (closed loop) or calls in flight at most (paced, arrivals)")
	fs.DurationVar(&c.Duration, "duration", c.Duration,
		"length of the journey phase (with -arrival: the most it may take)")
	fs.DurationVar(&c.PhaseDuration, "phase-duration", c.PhaseDuration,
		"length of each baseline and reserve phase")
	fs.IntVar(&c.Products, "products", c.Products, "products in the journey sale")
	fs.IntVar(&c.Stock, "stock", c.Stock, "units of each product in the journey sale")
	fs.IntVar(&c.Limit, "limit", c.Limit, "per-user limit of the journey sale")
	fs.IntVar(&c.Shoppers, "shoppers", c.Shoppers, "distinct users, each with its own token")
	fs.Float64Var(&c.AbandonShare, "abandon", c.AbandonShare,
		"share of holds left to expire")
	fs.Float64Var(&c.ReleaseShare, "release", c.ReleaseShare, "share of holds released")
	fs.Float64Var(&c.ListShare, "list-share", c.ListShare,
		"share of visits that list the active sales first")
	fs.DurationVar(&c.Arrival, "arrival", c.Arrival,
		"each shopper visits once, arriving evenly within this window (0: closed loop)")
	fs.Float64Var(&c.Rate, "rate", c.Rate,
		"pace the reserve phase at this many calls/s (open loop); 0 runs it closed loop")
	fs.BoolVar(&c.HalfRate, "half-rate", c.HalfRate,
		"after a closed-loop reserve phase, run one paced at half the rate it reached")
	fs.BoolVar(&c.SkipBaselines, "skip-baselines", c.SkipBaselines,
		"leave out the raw EVALSHA, store and DB-locking baselines")
	fs.IntVar(&c.ServerPID, "server-pid", c.ServerPID,
		"process id of the server under test, to report its CPU per call")
	fs.BoolVar(&c.AcceptGzip, "accept-gzip", c.AcceptGzip,
		"accept gzip responses like connect-go clients and browsers do by default")
	fs.BoolVar(&c.Progress, "progress", c.Progress, "draw progress bars on stderr")
	fs.BoolVar(&c.Cleanup, "cleanup", c.Cleanup,
		"end the run's sales and delete the throughput sales' Redis keys afterwards")
	fs.StringVar(&o.out, "out", o.out, "JSON results file (empty: none)")
	fs.StringVar(&o.chart, "chart", o.chart, "HTML chart file (empty: none)")
	fs.IntVar(&o.dbConns, "inproc-db-conns", 0,
		"PostgreSQL pool of the in-process server (0: as cmd/flashsale-server)")
	fs.StringVar(&o.pprofAddr, "pprof", "",
		"serve net/http/pprof of this process on a loopback address, e.g. 127.0.0.1:6061")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "",
		"write a CPU profile of this process (with -server inproc: server included)")
	return fs
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
