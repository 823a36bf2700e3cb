package loadtest

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws one bar per phase on stderr, redrawn five times a second
// from counters, so the workers never touch the terminal.
type progress struct {
	stop chan struct{}
	done chan struct{}
}

// startProgress shows a bar at position pos() out of total, labelled with
// the phase and the rate at which calls() grows. With w nil it draws
// nothing.
func startProgress(w io.Writer, label string, total int64, pos, calls func() int64) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(fmt.Sprintf("%-13s %9s", label, "")),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetRenderBlankState(true),
	)
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		last, lastAt := calls(), time.Now()
		for {
			select {
			case <-p.stop:
				_ = bar.Finish()
				fmt.Fprintln(w)
				return
			case now := <-t.C:
				n := calls()
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				last, lastAt = n, now
				bar.Describe(fmt.Sprintf("%-13s %7.0f/s", label, rate))
				_ = bar.Set64(min(pos(), total))
			}
		}
	}()
	return p
}

// timeBar shows a phase that runs for d; the bar fills with time.
func timeBar(w io.Writer, label string, d time.Duration, calls func() int64) *progress {
	start := time.Now()
	tenths := func() int64 { return int64(time.Since(start) / (100 * time.Millisecond)) }
	return startProgress(w, label, max(int64(d/(100*time.Millisecond)), 1), tenths, calls)
}

// Stop ends the bar and waits until it is drawn.
func (p *progress) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.stop)
	<-p.done
}
