// Package config reads the service's configuration from environment
// variables, in this one place. Defaults match the local stack that
// localstack/up.sh starts, so a developer sets nothing.
package config

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// DevJWTSecret signs local development tokens. It is public on purpose and
// must never be used where AUTH_JWT_SECRET can be set.
const DevJWTSecret = "flashsale-local-dev-secret-change-me"

// Config is everything a process of this service can be told.
type Config struct {
	Addr                 string        // PORT: listen address of the local server
	RedisURL             string        // REDIS_URL
	RedisCluster         bool          // REDIS_CLUSTER: REDIS_URL is a cluster endpoint
	DatabaseURL          string        // DATABASE_URL
	AnalyticsDatabaseURL string        // ANALYTICS_DATABASE_URL
	AWSEndpointURL       string        // AWS_ENDPOINT_URL: emulators or LocalStack
	EventsStream         string        // EVENTS_STREAM
	EventsTable          string        // EVENTS_TABLE
	RelayInterval        time.Duration // RELAY_INTERVAL: relay pause when idle
	LocalEvents          bool          // LOCAL_EVENTS: local server relays and polls
	NotifyTopicARN       string        // NOTIFY_TOPIC_ARN: SNS; empty = analytics table
	ReservationTTL       time.Duration // RESERVATION_TTL
	ConfirmGrace         time.Duration // CONFIRM_GRACE
	SweepInterval        time.Duration // SWEEP_INTERVAL
	JWTSecret            string        // AUTH_JWT_SECRET
	RateLimitPerSecond   int           // RATE_LIMIT_PER_SECOND, per user, 0 disables
	RateLimitBurst       int           // RATE_LIMIT_BURST
	LogLevel             string        // LOG_LEVEL: debug, info, warn, error

	// In AWS the connection settings come as secrets plus endpoints, so no
	// password sits in the function's environment; app.ResolveSecrets turns
	// them into the URLs above at cold start.
	DB                 SecretDB // DB_SECRET_ARN, DB_PROXY_ENDPOINT, DB_PORT, DB_NAME
	Analytics          SecretDB // ANALYTICS_DB_SECRET_ARN, _ENDPOINT, _PORT, _NAME
	RedisAuthSecretARN string   // REDIS_AUTH_SECRET_ARN: the AUTH token of REDIS_URL
}

// SecretDB locates a database whose credentials live in Secrets Manager.
type SecretDB struct {
	SecretARN string
	Endpoint  string
	Port      string
	Name      string
}

// Load reads the environment. It fails on values it cannot parse rather than
// silently using a default.
func Load() (Config, error) {
	r := reader{lookup: os.LookupEnv}
	c := Config{
		Addr:     "127.0.0.1:" + r.str("PORT", "8080"),
		RedisURL: r.str("REDIS_URL", "redis://127.0.0.1:16379/0"),
		DatabaseURL: r.str("DATABASE_URL",
			"postgres://flashsale:flashsale@127.0.0.1:15432/flashsale?sslmode=disable"),
		AnalyticsDatabaseURL: r.str("ANALYTICS_DATABASE_URL",
			"postgres://flashsale:flashsale@127.0.0.1:15432/flashsale_analytics?sslmode=disable"),
		AWSEndpointURL:     r.str("AWS_ENDPOINT_URL", ""),
		EventsStream:       r.str("EVENTS_STREAM", "flash-sale-events"),
		EventsTable:        r.str("EVENTS_TABLE", "flash_sale_events"),
		RelayInterval:      r.duration("RELAY_INTERVAL", 200*time.Millisecond),
		NotifyTopicARN:     r.str("NOTIFY_TOPIC_ARN", ""),
		ReservationTTL:     r.duration("RESERVATION_TTL", 5*time.Minute),
		ConfirmGrace:       r.duration("CONFIRM_GRACE", time.Minute),
		SweepInterval:      r.duration("SWEEP_INTERVAL", 500*time.Millisecond),
		JWTSecret:          r.str("AUTH_JWT_SECRET", DevJWTSecret),
		RateLimitPerSecond: r.integer("RATE_LIMIT_PER_SECOND", 20),
		RateLimitBurst:     r.integer("RATE_LIMIT_BURST", 40),
		LogLevel:           r.str("LOG_LEVEL", "info"),
	}
	c.RedisCluster = r.str("REDIS_CLUSTER", "false") == "true"
	c.DB = SecretDB{SecretARN: r.str("DB_SECRET_ARN", ""), Endpoint: r.str("DB_PROXY_ENDPOINT", ""),
		Port: r.str("DB_PORT", "5432"), Name: r.str("DB_NAME", "flashsale")}
	c.Analytics = SecretDB{SecretARN: r.str("ANALYTICS_DB_SECRET_ARN", ""),
		Endpoint: r.str("ANALYTICS_DB_ENDPOINT", ""), Port: r.str("ANALYTICS_DB_PORT", "5439"),
		Name: r.str("ANALYTICS_DB_NAME", "flashsale_analytics")}
	c.RedisAuthSecretARN = r.str("REDIS_AUTH_SECRET_ARN", "")
	c.LocalEvents = r.str("LOCAL_EVENTS", "true") == "true"
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// reader collects the first parse error so Load can report it once.
type reader struct {
	lookup func(string) (string, bool)
	err    error
}

func (r *reader) str(name, def string) string {
	if v, ok := r.lookup(name); ok {
		return v
	}
	return def
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, v, "a positive duration such as 5m or 2s")
		return def
	}
	return d
}

func (r *reader) integer(name string, def int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.fail(name, v, "a non-negative integer")
		return def
	}
	return n
}

func (r *reader) fail(name, value, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("config: %s=%q: want %s", name, value, want)
	}
}
