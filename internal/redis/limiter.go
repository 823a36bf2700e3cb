package redis

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// Limiter rations calls per key with GCRA (redis_rate), so the limit holds
// across every process and Lambda instance that shares the Redis.
type Limiter struct {
	l     *redis_rate.Limiter
	limit redis_rate.Limit
}

var _ flashsale.Limiter = (*Limiter)(nil)

// NewLimiter allows perSecond calls per key with bursts up to burst.
func NewLimiter(c redis.UniversalClient, perSecond, burst int) *Limiter {
	return &Limiter{
		l:     redis_rate.NewLimiter(c),
		limit: redis_rate.Limit{Rate: perSecond, Burst: max(burst, 1), Period: time.Second},
	}
}

// Allow takes one call from key's allowance; a positive duration means the
// call is over the rate and may be retried after it.
func (l *Limiter) Allow(ctx context.Context, key string) (time.Duration, error) {
	res, err := l.l.Allow(ctx, "rl:"+key, l.limit)
	if err != nil {
		return 0, flashsale.Unavailable("redis", err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}
