// Package loadtest drives the flash-sale service the way a crowd of shoppers
// would (browse, reserve, pay, confirm, some releasing or abandoning their
// hold) over Connect HTTP, measures it next to two baselines on the same
// machine (a bare Redis EVALSHA and a PostgreSQL row lock), and checks the
// truth in PostgreSQL and Redis afterwards: nothing oversold, counters that
// add up, no shopper above the limit.
//
// A run is a fixed sequence of phases, each at the same concurrency:
//
//	raw_evalsha    a two-line check-and-decrement script on one Redis key
//	store_reserve  the project's reserve script through internal/redis alone
//	db_lock        SELECT ... FOR UPDATE + UPDATE on one hot PostgreSQL row
//	reserve        Reserve over HTTP only, closed loop (or paced at Rate)
//	reserve_half   Reserve over HTTP paced at half the rate reserve reached
//	browse_half    GetSaleProducts paced at that same rate
//	journey        shoppers: browse, reserve, pay, confirm / release / abandon
//
// The load generator shares the machine with the server, Redis and
// PostgreSQL, so every number here is a number of the whole box.
package loadtest

import (
	"errors"
	"fmt"
	"time"
)

// Config is one run.
type Config struct {
	// ServerURL is the base URL of the server under test.
	ServerURL string
	// DatabaseURL and RedisURL reach the stores the server uses, for the
	// baselines and the truth checks.
	DatabaseURL  string
	RedisURL     string
	RedisCluster bool
	// JWTSecret signs the shoppers' and the admin's tokens.
	JWTSecret string

	// Concurrency is the number of workers in closed-loop phases and the
	// cap on calls in flight in paced ones.
	Concurrency int
	// Duration is the length of the journey phase (closed loop); the seed
	// preset instead runs until every shopper has finished.
	Duration time.Duration
	// PhaseDuration is the length of each baseline and reserve phase.
	PhaseDuration time.Duration

	// Products, Stock and Limit shape the journey sale: Products products of
	// Stock units each, at most Limit units per shopper and product.
	Products int
	Stock    int
	Limit    int
	// Shoppers is the number of distinct users, each with its own token.
	Shoppers int
	// AbandonShare of holds are left to expire; ReleaseShare are released.
	// The rest are paid and confirmed.
	AbandonShare float64
	ReleaseShare float64
	// ListShare of journeys start with ListActiveSales before browsing.
	ListShare float64

	// Arrival, when set, makes each shopper visit once, arriving at an even
	// pace within this window from the journey's start (the seed preset).
	Arrival time.Duration
	// Rate, when set, paces the reserve phase at this many calls per second
	// (open loop) instead of running it closed loop.
	Rate float64
	// HalfRate adds the reserve_half phase after a closed-loop reserve phase.
	HalfRate bool
	// SkipBaselines leaves out raw_evalsha, store_reserve and db_lock.
	SkipBaselines bool

	// ServerPID, when set, is the server's process id: the report then
	// shows the server's CPU per call. ServerInProcess says the server runs
	// inside this process (its CPU is the generator's).
	ServerPID       int
	ServerInProcess bool
	// AcceptGzip makes the clients accept gzip responses, as connect-go
	// clients and browsers do by default; the server then compresses them.
	AcceptGzip bool

	// Progress draws a progress bar on stderr.
	Progress bool
	// Cleanup ends the run's sales and, after the checks, deletes the Redis
	// keys of the throughput sales (and, in a smoke run, the journey sale's);
	// the journey sale of other runs is kept to inspect.
	Cleanup bool
	// Smoke marks a correctness-only run; it changes nothing but the report.
	Smoke bool
	// Preset names the preset the run started from, for the report.
	Preset string
}

// Default is the configuration of `make loadtest`: about a minute in all.
func Default() Config {
	return Config{
		ServerURL:     "http://127.0.0.1:8080",
		Concurrency:   50,
		Duration:      20 * time.Second,
		PhaseDuration: 5 * time.Second,
		Products:      4,
		Stock:         5000,
		Limit:         2,
		Shoppers:      5000,
		AbandonShare:  0.1,
		ReleaseShare:  0.1,
		ListShare:     0.1,
		HalfRate:      true,
		AcceptGzip:    true,
		Progress:      true,
		Cleanup:       true,
		Preset:        "default",
	}
}

// ApplyPreset changes c to a named preset: "default", "seed" (the design's
// scenario: 1,000 units and 20,000 shoppers arriving within two seconds) or
// "smoke" (a few seconds on small stock, for make test).
func ApplyPreset(c *Config, name string) error {
	switch name {
	case "", "default":
	case "seed":
		c.Products, c.Stock, c.Limit = 1, 1000, 2
		c.Shoppers, c.Arrival, c.Concurrency = 20000, 2*time.Second, 200
		c.AbandonShare, c.ReleaseShare, c.ListShare = 0, 0, 0
		c.Duration = time.Minute // a cap: the phase ends when every shopper has
	case "smoke":
		c.Concurrency, c.Duration, c.PhaseDuration = 8, 3*time.Second, 500*time.Millisecond
		c.Products, c.Stock, c.Limit, c.Shoppers = 2, 60, 2, 200
		c.AbandonShare, c.ReleaseShare, c.ListShare = 0.15, 0.15, 0.1
		c.Smoke, c.Progress = true, false
	default:
		return fmt.Errorf("unknown preset %q: want default, seed or smoke", name)
	}
	c.Preset = name
	return nil
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.ServerURL == "":
		return errors.New("server url is empty")
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.Duration <= 0 || c.PhaseDuration <= 0:
		return errors.New("durations must be positive")
	case c.Products < 1 || c.Products > 100:
		return errors.New("products must be 1 to 100")
	case c.Stock < 1 || c.Stock > 1_000_000:
		return errors.New("stock must be 1 to 1,000,000 per product")
	case c.Limit < 1 || c.Limit > 100:
		return errors.New("limit must be 1 to 100")
	case c.Shoppers < c.Concurrency:
		return errors.New("shoppers must be at least the concurrency")
	case c.AbandonShare < 0 || c.ReleaseShare < 0 || c.AbandonShare+c.ReleaseShare > 1:
		return errors.New("abandon and release shares must be >= 0 and add up to at most 1")
	case c.ListShare < 0 || c.ListShare > 1:
		return errors.New("list share must be 0 to 1")
	case c.Arrival < 0:
		return errors.New("arrival window must be >= 0")
	case c.Rate < 0:
		return errors.New("rate must be >= 0")
	}
	return nil
}
