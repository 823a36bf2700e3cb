package pipeline_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	goredis "github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestThroughput measures the relay (Redis streams to the stream) and each
// consumer on the local stack, and checks that everything arrived. Run with
// -v to see the rates; EVENTS_THROUGHPUT_N sets the number of events.
func TestThroughput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, 0)
	n := 4000
	if v, err := strconv.Atoi(os.Getenv("EVENTS_THROUGHPUT_N")); err == nil && v > 0 {
		n = v
	}
	s := testenv.Sale(t, e.a, 1, 10, 10, 10, 10)

	// Hold events as the Lua scripts write them, spread over four products,
	// in small pipelines: the client's short timeout would resend a long one.
	now := time.Now().UnixMilli()
	key := func(l flashsale.Line) string { return "fs:{" + s.ID + ":" + l.ProductID + "}:events" }
	for from := 0; from < n; from += 200 {
		_, err := e.a.Redis.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := from; i < min(from+200, n); i++ {
				p.XAdd(ctx, &goredis.XAddArgs{Stream: key(s.Lines[i%len(s.Lines)]),
					Values: []any{"type", "reserved", "hold", "r_" + strconv.Itoa(i),
						"user", "u" + strconv.Itoa(i), "qty", "1", "amount", "600",
						"reason", "", "at", strconv.FormatInt(now, 10)}})
			}
			return nil
		})
		if err != nil {
			t.Fatalf("xadd: %v", err)
		}
	}
	var added int64
	for _, l := range s.Lines {
		added += e.a.Redis.XLen(ctx, key(l)).Val()
	}
	if added != int64(n) {
		t.Fatalf("setup: got %d stream entries, want %d", added, n)
	}

	start := time.Now()
	st, err := e.relay(s.ID, e.publisher()).Pass(ctx)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	took := time.Since(start)
	mustEqual(t, "published", st.Published, n+1) // and sale_created
	t.Logf("relay: %d events in %v, %.0f events/s", st.Published, took.Round(time.Millisecond),
		float64(st.Published)/took.Seconds())

	// Delivery is at least once: a PutRecords that timed out on a busy
	// machine after the stream took it is sent again, so count events, not
	// records (the consumers below drop the repeats).
	recs := records(t, e.kin, e.stream)
	ids := map[string]bool{}
	for _, r := range recs {
		ev, err := events.Unmarshal(r.Data)
		if err != nil {
			t.Fatalf("record %s: %v", aws.ToString(r.SequenceNumber), err)
		}
		ids[ev.GetEventId()] = true
	}
	mustEqual(t, "events on the stream", len(ids), n+1)
	if len(recs) > len(ids) {
		t.Logf("%d records repeated on the stream", len(recs)-len(ids))
	}
	for name, h := range e.handlers {
		start := time.Now()
		for i := 0; i < len(recs); i += 100 {
			resp, err := h(ctx, batch(recs[i:min(i+100, len(recs))]))
			if err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatalf("%s: failures %v, %v", name, resp.BatchItemFailures, err)
			}
		}
		took := time.Since(start)
		t.Logf("%s: %d events in batches of 100 in %v, %.0f events/s", name, len(recs),
			took.Round(time.Millisecond), float64(len(recs))/took.Seconds())
	}
	logged, err := e.eventLog.SaleEvents(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "logged events", len(eventIDs(t, logged)), n+1)
	var holds int
	err = e.adb.QueryRow(ctx, `SELECT SUM(holds) FROM flash_sale_metrics WHERE sale_id = $1`,
		s.ID).Scan(&holds)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "holds counted", holds, n)
}
