package redis

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/events"
)

// EventStreams reads the per-product streams of hold events that the Lua
// scripts append to (fs:{S:P}:events) and deletes entries once the relay has
// published them. What is left in a stream is exactly what is pending, so
// the relay needs no cursor or consumer group: it reads from the start.
type EventStreams struct{ c redis.UniversalClient }

var _ events.Streams = (*EventStreams)(nil)

// NewEventStreams returns the streams on a standalone or cluster client.
func NewEventStreams(c redis.UniversalClient) *EventStreams { return &EventStreams{c: c} }

// Pending reads up to limit of the oldest entries of each product's stream,
// in one pipeline (split by slot on a cluster).
func (s *EventStreams) Pending(
	ctx context.Context,
	products []events.ProductRef,
	limit int,
) ([]events.StreamEntry, error) {
	cmds := make([]*redis.XMessageSliceCmd, len(products))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ref := range products {
			cmds[i] = p.XRangeN(ctx, keysFor(ref.SaleID, ref.ProductID).events, "-", "+",
				int64(limit))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, cacheDown(err)
	}
	var out []events.StreamEntry
	for i, cmd := range cmds {
		msgs, err := cmd.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, cacheDown(err)
		}
		for _, m := range msgs {
			out = append(out, events.StreamEntry{SaleID: products[i].SaleID,
				ProductID: products[i].ProductID, ID: m.ID, Fields: fields(m.Values)})
		}
	}
	return out, nil
}

func fields(values map[string]any) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

// Delete removes published entries, one XDEL per product stream. An entry
// deleted twice (two relays raced) is no error.
func (s *EventStreams) Delete(ctx context.Context, entries []events.StreamEntry) error {
	ids := map[events.ProductRef][]string{}
	for _, e := range entries {
		ref := events.ProductRef{SaleID: e.SaleID, ProductID: e.ProductID}
		ids[ref] = append(ids[ref], e.ID)
	}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for ref, list := range ids {
			p.XDel(ctx, keysFor(ref.SaleID, ref.ProductID).events, list...)
		}
		return nil
	})
	return cacheDown(err)
}
