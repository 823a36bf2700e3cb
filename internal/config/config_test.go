package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadDefaultsAndOverrides(t *testing.T) {
	t.Setenv("RESERVATION_TTL", "2s")
	t.Setenv("PORT", "9999")
	t.Setenv("REDIS_CLUSTER", "true")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.ReservationTTL != 2*time.Second || c.Addr != "127.0.0.1:9999" || !c.RedisCluster {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadRefusesBadValues(t *testing.T) {
	for name, value := range map[string]string{
		"RESERVATION_TTL":       "five minutes",
		"SWEEP_INTERVAL":        "-1s",
		"RATE_LIMIT_PER_SECOND": "many",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("got %v, want an error naming %s", err, name)
			}
		})
	}
}
