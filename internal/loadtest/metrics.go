package loadtest

import (
	"errors"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Operation names: the RPCs of a shopper journey and the baselines. Each has
// its own histogram and time series.
const (
	OpList      = "list"    // ShopperService.ListActiveSales
	OpBrowse    = "browse"  // ShopperService.GetSaleProducts
	OpReserve   = "reserve" // ShopperService.Reserve
	OpPay       = "pay"     // PaymentSimulatorService.CreatePayment
	OpConfirm   = "confirm" // ShopperService.Confirm
	OpRelease   = "release" // ShopperService.Release
	OpRaw       = "raw_evalsha"
	OpStore     = "store_reserve"
	OpDBLock    = "db_lock"
	OpJourney   = "journey" // a whole shopper visit, from its arrival
	reasonOK    = "OK"
	reasonOther = "TRANSPORT"
)

// Latencies are recorded in microseconds, from 1 µs to a minute; three
// significant digits for the totals, two for the per-second buckets, which
// only draw the chart.
const (
	histMin      = 1
	histMax      = int64(time.Minute / time.Microsecond)
	histDigits   = 3
	bucketDigits = 2
)

// Recorder collects every call of a run. One mutex per operation keeps the
// cost per call to a lock and two histogram writes, small next to an HTTP
// round trip, so the generator steals little CPU from the server.
type Recorder struct {
	start time.Time
	mu    sync.RWMutex
	ops   map[string]*opStats
	order []string
}

// NewRecorder starts the clock of a run.
func NewRecorder(start time.Time) *Recorder {
	return &Recorder{start: start, ops: map[string]*opStats{}}
}

type opStats struct {
	mu       sync.Mutex
	total    *hdrhistogram.Histogram
	reasons  map[string]int64
	examples map[string]string // reason -> first error message
	seconds  []*bucket
	calls    atomic.Int64 // read by the progress bar without the lock
}

type bucket struct {
	calls, failed int64
	hist          *hdrhistogram.Histogram
}

func (r *Recorder) op(name string) *opStats {
	r.mu.RLock()
	s, ok := r.ops[name]
	r.mu.RUnlock()
	if ok {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok = r.ops[name]
	if !ok {
		s = &opStats{total: hdrhistogram.New(histMin, histMax, histDigits),
			reasons: map[string]int64{}, examples: map[string]string{}}
		r.ops[name] = s
		r.order = append(r.order, name)
	}
	return s
}

// Record adds one call that started at start and ended now with err (nil,
// or a Connect error whose ErrorInfo reason is counted).
func (r *Recorder) Record(name string, start time.Time, err error) {
	end, reason := time.Now(), ReasonOf(err)
	r.RecordReason(name, start, end, reason)
	if err != nil {
		r.example(name, reason, err)
	}
}

// example keeps the first message of each unexpected failure (no domain
// reason), so the report can say what went wrong.
func (r *Recorder) example(name, reason string, err error) {
	if !unexpected(reason) {
		return
	}
	s := r.op(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.examples[reason]; !ok {
		msg := err.Error()
		s.examples[reason] = msg[:min(len(msg), 300)]
	}
}

// unexpected tells a failure from a domain answer: domain reasons are upper
// case (SOLD_OUT); bare Connect codes (internal, unavailable) and transport
// or driver errors are not.
func unexpected(reason string) bool {
	return reason == reasonOther || strings.HasPrefix(reason, "ERROR") ||
		strings.HasPrefix(reason, "PG_") || reason == strings.ToLower(reason)
}

// RecordReason adds one call with an explicit outcome reason ("OK" for
// success).
func (r *Recorder) RecordReason(name string, start, end time.Time, reason string) {
	us := max(end.Sub(start).Microseconds(), histMin)
	// A call counts in the second it started: the tail of a phase or a
	// slice stays with it in the chart.
	sec := max(int(start.Sub(r.start)/time.Second), 0)
	s := r.op(name)
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.total.RecordValue(min(us, histMax))
	s.reasons[reason]++
	for len(s.seconds) <= sec {
		s.seconds = append(s.seconds, nil)
	}
	b := s.seconds[sec]
	if b == nil {
		b = &bucket{hist: hdrhistogram.New(histMin, histMax, bucketDigits)}
		s.seconds[sec] = b
	}
	b.calls++
	if reason != reasonOK {
		b.failed++
	}
	_ = b.hist.RecordValue(min(us, histMax))
}

// Calls returns how many calls of an operation were recorded so far.
func (r *Recorder) Calls(name string) int64 { return r.op(name).calls.Load() }

// ReasonOf names the outcome of a call: OK, the reason of the error's
// ErrorInfo detail, else its Connect code, else TRANSPORT.
func ReasonOf(err error) string {
	if err == nil {
		return reasonOK
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return reasonOther
	}
	for _, d := range ce.Details() {
		if d.Type() != "google.rpc.ErrorInfo" {
			continue
		}
		if v, e := d.Value(); e == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok && info.Reason != "" {
				return info.Reason
			}
		}
	}
	return ce.Code().String()
}

// OpSummary is one operation's totals over a window of the run.
type OpSummary struct {
	Name    string           `json:"name"`
	Calls   int64            `json:"calls"`
	OK      int64            `json:"ok"`
	Reasons map[string]int64 `json:"reasons"`
	RPS     float64          `json:"rps"`
	P50ms   float64          `json:"p50_ms"`
	P95ms   float64          `json:"p95_ms"`
	P99ms   float64          `json:"p99_ms"`
	MaxMs   float64          `json:"max_ms"`
	MeanMs  float64          `json:"mean_ms"`
	// Examples holds the first message of each unexpected failure.
	Examples map[string]string `json:"examples,omitempty"`
}

// Summary returns the totals of an operation, with throughput over elapsed.
func (r *Recorder) Summary(name string, elapsed time.Duration) OpSummary {
	s := r.op(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := OpSummary{Name: name, Calls: s.total.TotalCount(), OK: s.reasons[reasonOK],
		Reasons: map[string]int64{}}
	for k, v := range s.reasons {
		if k != reasonOK {
			out.Reasons[k] = v
		}
	}
	if len(s.examples) > 0 {
		out.Examples = maps.Clone(s.examples)
	}
	if elapsed > 0 {
		out.RPS = float64(out.Calls) / elapsed.Seconds()
	}
	if out.Calls > 0 {
		out.P50ms = ms(s.total.ValueAtQuantile(50))
		out.P95ms = ms(s.total.ValueAtQuantile(95))
		out.P99ms = ms(s.total.ValueAtQuantile(99))
		out.MaxMs = ms(s.total.Max())
		out.MeanMs = s.total.Mean() / 1000
	}
	return out
}

// Names returns the recorded operations in the order they first appeared.
func (r *Recorder) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.order...)
}

// Point is one second of one operation, for the chart.
type Point struct {
	Second int     `json:"t"`
	Calls  int64   `json:"calls"`
	Failed int64   `json:"failed"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
}

// Series returns the per-second points of every operation.
func (r *Recorder) Series() map[string][]Point {
	out := map[string][]Point{}
	for _, name := range r.Names() {
		s := r.op(name)
		s.mu.Lock()
		var pts []Point
		for sec, b := range s.seconds {
			if b == nil {
				continue
			}
			pts = append(pts, Point{Second: sec, Calls: b.calls, Failed: b.failed,
				P50ms: ms(b.hist.ValueAtQuantile(50)), P99ms: ms(b.hist.ValueAtQuantile(99))})
		}
		s.mu.Unlock()
		out[name] = pts
	}
	return out
}

func ms(us int64) float64 { return float64(us) / 1000 }

// sortedKeys returns a map's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
