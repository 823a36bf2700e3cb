package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// closedLoop runs op on n workers until the deadline or until ctx ends;
// each worker starts its next call as soon as the last one returned. Calls
// in flight at the deadline finish normally, so none is cut short and
// counted as an error.
func closedLoop(ctx context.Context, n int, until time.Time, op func(worker int, seq uint64)) {
	var wg sync.WaitGroup
	var seq atomic.Uint64
	for w := range n {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(until) {
				op(w, seq.Add(1))
			}
		})
	}
	wg.Wait()
}

// Pacing reports how well a paced phase kept its schedule.
type Pacing struct {
	// Issued calls, and calls dropped because every worker was busy.
	Issued, Dropped int64
	// LagP99ms is how late the 99th percentile call started after its
	// scheduled time: a large lag means the generator itself fell behind.
	LagP99ms float64
}

// paced issues op at rate calls per second (open loop) for d on n workers.
// A dispatcher hands out a ticket per scheduled call each millisecond; when
// every worker is busy and the queue is full, the ticket is dropped and
// counted rather than delayed, so a slow server cannot slow the schedule.
func paced(ctx context.Context, n int, rate float64, d time.Duration,
	op func(seq uint64)) Pacing {
	tickets := make(chan time.Time, n)
	var lagMu sync.Mutex
	lag := hdrhistogram.New(histMin, histMax, bucketDigits)
	var wg sync.WaitGroup
	var seq atomic.Uint64
	for range n {
		wg.Go(func() {
			for due := range tickets {
				late := time.Since(due).Microseconds()
				lagMu.Lock()
				_ = lag.RecordValue(min(max(late, histMin), histMax))
				lagMu.Unlock()
				op(seq.Add(1))
			}
		})
	}

	var p Pacing
	var scheduled int64
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	for now := range tick.C {
		elapsed := now.Sub(start)
		if elapsed >= d || ctx.Err() != nil {
			break
		}
		for due := int64(elapsed.Seconds() * rate); scheduled < due; scheduled++ {
			at := start.Add(time.Duration(float64(scheduled) / rate * float64(time.Second)))
			select {
			case tickets <- at:
				p.Issued++
			default:
				p.Dropped++
			}
		}
	}
	tick.Stop()
	close(tickets)
	wg.Wait()
	p.LagP99ms = ms(lag.ValueAtQuantile(99))
	return p
}

// arrivals hands each of n shoppers to a pool of workers at an even pace
// over window, then waits until every shopper has been served. A shopper
// who arrives while every worker is busy waits in line, as at a real door;
// op gets the arrival time so the wait counts in what the shopper saw.
func arrivals(ctx context.Context, workers, n int, window time.Duration,
	op func(i int, arrived time.Time)) {
	type arrival struct {
		i  int
		at time.Time
	}
	line := make(chan arrival, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for a := range line {
				op(a.i, a.at)
			}
		})
	}
	start := time.Now()
	sent := 0
	for sent < n && ctx.Err() == nil {
		due := n
		if window > 0 {
			due = min(n, int(float64(n)*float64(time.Since(start))/float64(window))+1)
		}
		for ; sent < due; sent++ {
			at := start.Add(window * time.Duration(sent) / time.Duration(n))
			line <- arrival{i: sent, at: at}
		}
		if sent < n {
			time.Sleep(time.Millisecond)
		}
	}
	close(line)
	wg.Wait()
}
