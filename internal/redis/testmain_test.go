package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// The tests run on the real Redis of the local stack, standalone and cluster.
// They fail, not skip, when it is down: `make test` starts the stack first.
var (
	testURL          = envOr("REDIS_URL", "redis://127.0.0.1:16379/0")
	testClusterAddrs = envOr("REDIS_CLUSTER_ADDRS",
		"127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// target is one Redis deployment that every test runs against.
type target struct {
	name    string
	c       redis.UniversalClient
	cluster bool
}

var testTargets struct {
	once sync.Once
	list []target
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, tg := range testTargets.list {
		_ = tg.c.Close()
	}
	os.Exit(code)
}

// targets returns the standalone and the cluster client, connected once for
// the whole package; it fails the test when either is unreachable.
func targets(tb testing.TB) []target {
	tb.Helper()
	testTargets.once.Do(func() {
		testTargets.list, testTargets.err = connectTargets()
	})
	if testTargets.err != nil {
		tb.Fatalf("redis for tests is unreachable (start the local stack, "+
			"e.g. localstack/up.sh redis cluster): %v", testTargets.err)
	}
	return testTargets.list
}

func connectTargets() ([]target, error) {
	single, err := NewClient(Options{URL: testURL})
	if err != nil {
		return nil, err
	}
	cluster, err := NewClient(Options{URL: clusterURL(testClusterAddrs), Cluster: true})
	if err != nil {
		return nil, err
	}
	list := []target{{"standalone", single, false}, {"cluster", cluster, true}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := single.Ping(ctx).Err(); err != nil {
		return list, fmt.Errorf("REDIS_URL=%s: %w", testURL, err)
	}
	// Ping every master: a half-started cluster must fail here, not later.
	err = cluster.(*redis.ClusterClient).ForEachMaster(ctx,
		func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
	if err != nil {
		return list, fmt.Errorf("REDIS_CLUSTER_ADDRS=%s: %w", testClusterAddrs, err)
	}
	return list, nil
}

// clusterURL turns "h1:p1,h2:p2" into the seed URL that NewClient takes:
// redis://h1:p1?addr=h2:p2.
func clusterURL(addrs string) string {
	seeds := strings.Split(addrs, ",")
	return "redis://" + seeds[0] + "?" + url.Values{"addr": seeds[1:]}.Encode()
}

// eachTarget runs f as a parallel subtest on every target.
func eachTarget(t *testing.T, f func(t *testing.T, tg target)) {
	t.Helper()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f(t, tg)
		})
	}
}

// saleSpec describes the Redis state of one sale product for a test, as the
// sale cache would load it.
type saleSpec struct {
	stock   int
	limit   int
	price   int64
	state   string        // scheduled when empty
	start   time.Duration // from now; -1h when zero
	end     time.Duration // from now; +1h when zero
	noStock bool          // leave the stock key out
	noMeta  bool          // leave the meta hash out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadSale writes a fresh sale product with a unique sale id, so tests that
// run in parallel on a shared Redis never meet, and deletes it afterwards.
func loadSale(t *testing.T, c redis.UniversalClient, spec saleSpec) flashsale.HoldRef {
	t.Helper()
	ref := flashsale.HoldRef{SaleID: "t" + randomHex(8), ProductID: "p1"}
	k := keysFor(ref.SaleID, ref.ProductID)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Del(ctx, k.all()...).Err()
	})
	if spec.state == "" {
		spec.state = string(flashsale.StateScheduled)
	}
	if spec.start == 0 {
		spec.start = -time.Hour
	}
	if spec.end == 0 {
		spec.end = time.Hour
	}
	if spec.price == 0 {
		spec.price = 1250
	}
	now := time.Now()
	ctx := t.Context()
	if !spec.noMeta {
		err := c.HSet(ctx, k.meta,
			"start_ms", now.Add(spec.start).UnixMilli(), "end_ms", now.Add(spec.end).UnixMilli(),
			"state", spec.state, "limit", spec.limit, "price", spec.price, "currency", "EUR",
			"total", spec.stock, "held", 0, "sold", 0, "discarded", 0).Err()
		if err != nil {
			t.Fatalf("load meta: %v", err)
		}
	}
	if !spec.noStock {
		if err := c.Set(ctx, k.stock, spec.stock, 0).Err(); err != nil {
			t.Fatalf("load stock: %v", err)
		}
	}
	return ref
}

// newHold returns a ref to a hold id that does not exist yet.
func newHold(ref flashsale.HoldRef) flashsale.HoldRef {
	ref.HoldID = flashsale.NewHoldID(strings.ToUpper(randomHex(13)), ref.SaleID,
		ref.ProductID)
	return ref
}

func reserveInput(ref flashsale.HoldRef, user string, qty int) flashsale.ReserveInput {
	return flashsale.ReserveInput{HoldRef: newHold(ref), UserID: user, Qty: qty, TTL: time.Minute}
}

// mustReserve reserves and fails the test unless the result is want.
func mustReserve(
	t *testing.T,
	s *HoldStore,
	in flashsale.ReserveInput,
	want flashsale.ReserveResult,
) flashsale.ReserveOutcome {
	t.Helper()
	out, err := s.Reserve(t.Context(), in)
	if err != nil {
		t.Fatalf("reserve %d for %s: %v", in.Qty, in.UserID, err)
	}
	if out.Result != want {
		t.Fatalf("reserve %d for %s: got result %v, want %v", in.Qty, in.UserID, out.Result, want)
	}
	return out
}

func mustHold(t *testing.T, s *HoldStore, ref flashsale.HoldRef) flashsale.Hold {
	t.Helper()
	h, err := s.Hold(t.Context(), ref)
	if err != nil {
		t.Fatalf("hold %s: %v", ref.HoldID, err)
	}
	return h
}

// checkCounters compares the counters with want and checks the invariant
// available + held + sold + discarded == total.
func checkCounters(t *testing.T, s *HoldStore, ref flashsale.HoldRef, want flashsale.Counters) {
	t.Helper()
	got, err := s.Counters(t.Context(), ref.SaleID, ref.ProductID)
	if err != nil {
		t.Fatalf("counters: %v", err)
	}
	if got != want {
		t.Errorf("counters: got %+v, want %+v", got, want)
	}
	if sum := got.Available + got.Held + got.Sold + got.Discarded; sum != got.Total {
		t.Errorf("available+held+sold+discarded: got %d, want total %d", sum, got.Total)
	}
}

// streamEvent is one entry of a sale product's event stream.
type streamEvent map[string]string

func readEvents(t *testing.T, c redis.UniversalClient, ref flashsale.HoldRef) []streamEvent {
	t.Helper()
	key := keysFor(ref.SaleID, ref.ProductID).events
	msgs, err := c.XRange(t.Context(), key, "-", "+").Result()
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	out := make([]streamEvent, 0, len(msgs))
	for _, m := range msgs {
		e := streamEvent{}
		for k, v := range m.Values {
			e[k] = fmt.Sprint(v)
		}
		out = append(out, e)
	}
	return out
}

// eventsOf returns "type/reason" of each event of one hold, oldest first.
func eventsOf(t *testing.T, c redis.UniversalClient, ref flashsale.HoldRef) []string {
	t.Helper()
	var out []string
	for _, e := range readEvents(t, c, ref) {
		if e["hold"] == ref.HoldID {
			out = append(out, e["type"]+"/"+e["reason"])
		}
	}
	return out
}

// wantKind fails the test unless err is a domain error of kind and reason.
func wantKind(t *testing.T, what string, err error, kind flashsale.Kind, reason flashsale.Reason) {
	t.Helper()
	var fe *flashsale.Error
	if !errors.As(err, &fe) {
		t.Fatalf("%s: got error %v, want a *flashsale.Error of kind %d", what, err, kind)
	}
	if fe.Kind != kind || (reason != "" && fe.Reason != reason) {
		t.Errorf("%s: got kind %d reason %s, want kind %d reason %s",
			what, fe.Kind, fe.Reason, kind, reason)
	}
}
