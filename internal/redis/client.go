// Package redis holds the Redis adapters: the sale cache that browsing reads
// and the hold store whose Lua scripts make reservations atomic.
package redis

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a client. Timeouts are short on purpose: when Redis is
// unreachable a shopper gets `unavailable` within a second, not a hang.
type Options struct {
	// URL is redis:// or rediss://. For a cluster it names one seed node;
	// more seeds may follow as ?addr=host:port parameters.
	URL      string
	Cluster  bool
	PoolSize int
}

const (
	dialTimeout = 300 * time.Millisecond
	ioTimeout   = 400 * time.Millisecond
)

// NewClient returns a standalone or cluster client with bounded timeouts.
func NewClient(o Options) (redis.UniversalClient, error) {
	if o.Cluster {
		opt, err := redis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("parse redis cluster url: %w", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
		opt.MaxRetries, opt.DialerRetries = 1, 1
		if o.PoolSize > 0 {
			opt.PoolSize = o.PoolSize
		}
		return redis.NewClusterClient(opt), nil
	}
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	// One retry each: a refused connection must fail within a second.
	opt.MaxRetries, opt.DialerRetries = 1, 1
	if o.PoolSize > 0 {
		opt.PoolSize = o.PoolSize
	}
	return redis.NewClient(opt), nil
}
