package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/inventory"
)

// sweeper runs sweeps on a ticker within one invocation.
type sweeper struct {
	// sweepOnce is app.App.Sweep: reload Redis if it came back empty, then
	// sweep every sale that may still hold units.
	sweepOnce func(context.Context) (inventory.SweepResult, error)
	every     time.Duration // between the starts of two sweeps
	margin    time.Duration // before the invocation's deadline, when no sweep starts
	log       *slog.Logger
}

// Result counts the sweeps of one invocation.
type Result struct {
	Sweeps    int `json:"sweeps"`
	Failed    int `json:"failed"`
	Expired   int `json:"expired"`
	Finalized int `json:"finalized"`
	Aborted   int `json:"aborted"`
	CaughtUp  int `json:"caughtUp"`
}

// answerTime is kept at the very end of an invocation to report the result.
const answerTime = 100 * time.Millisecond

// Handle starts a sweep every interval until the invocation's deadline less
// the margin (once when the context has no deadline). A sweep that fails is
// retried by the next one; the invocation fails only when none succeeded,
// so a dead Redis shows as failed invocations. Sweeps are idempotent, so an
// overlapping invocation does no harm.
func (s *sweeper) Handle(ctx context.Context, _ events.EventBridgeEvent) (Result, error) {
	stop := time.Now()
	if deadline, ok := ctx.Deadline(); ok {
		// No sweep starts within the margin, but the last one may use it
		// to finish: a slow sweep is cut only just before the deadline,
		// leaving the time to answer.
		stop = deadline.Add(-s.margin)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-answerTime))
		defer cancel()
	}
	var res Result
	var firstErr error
	for {
		start := time.Now()
		if err := s.sweep(ctx, &res); err != nil && firstErr == nil {
			firstErr = err
		}
		next := start.Add(s.every)
		if !next.Before(stop) || !sleepUntil(ctx, next) {
			break
		}
	}
	s.log.InfoContext(ctx, "sweeps done", "sweeps", res.Sweeps, "failed", res.Failed,
		"expired", res.Expired, "finalized", res.Finalized, "aborted", res.Aborted,
		"caught_up", res.CaughtUp)
	if firstErr != nil {
		s.log.WarnContext(ctx, "sweep failed", "failed", res.Failed, "err", firstErr.Error())
		if res.Failed == res.Sweeps {
			return res, firstErr
		}
	}
	return res, nil
}

// sweep runs one sweep over the sales that may still hold units.
func (s *sweeper) sweep(ctx context.Context, res *Result) error {
	res.Sweeps++
	r, err := s.sweepOnce(ctx)
	res.Expired += r.Expired
	res.Finalized += r.Finalized
	res.Aborted += r.Aborted
	res.CaughtUp += r.CaughtUp
	if err != nil {
		res.Failed++
	}
	return err
}

// sleepUntil waits until t; false when the context ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
