package app

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/config"
)

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	db := config.SecretDB{SecretARN: "arn:db", Endpoint: "proxy.example.internal", Port: "5432",
		Name: "flashsale"}
	got, err := DatabaseURL(db, `{"username":"app","password":"p@ss/w:rd?"}`)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(got)
	if err != nil {
		t.Fatalf("pgx cannot parse %q: %v", got, err)
	}
	c := cfg.ConnConfig
	if c.User != "app" || c.Password != "p@ss/w:rd?" || c.Host != "proxy.example.internal" ||
		c.Port != 5432 || c.Database != "flashsale" || c.TLSConfig == nil {
		t.Fatalf("got user %q password %q host %q port %d db %q tls %v", c.User, c.Password,
			c.Host, c.Port, c.Database, c.TLSConfig != nil)
	}
	if _, err := DatabaseURL(db, `not json`); err == nil {
		t.Fatal("bad secret: got nil error")
	}
}

func TestWithRedisToken(t *testing.T) {
	t.Parallel()
	got, err := WithRedisToken("rediss://clustercfg.example.internal:6380", "t0k/en")
	if err != nil {
		t.Fatal(err)
	}
	opt, err := redis.ParseClusterURL(got)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Password != "t0k/en" || opt.TLSConfig == nil || opt.Addrs[0] != "clustercfg.example.internal:6380" {
		t.Fatalf("got password %q tls %v addrs %v", opt.Password, opt.TLSConfig != nil, opt.Addrs)
	}
}

func TestResolveSecretsLocallyFetchesNothing(t *testing.T) {
	t.Parallel()
	cfg := config.Config{DatabaseURL: "postgres://local", RedisURL: "redis://local"}
	if err := ResolveSecrets(context.Background(), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != "postgres://local" || cfg.RedisURL != "redis://local" {
		t.Fatalf("got %+v, want the URLs unchanged", cfg)
	}
}
