package pipeline_test

import (
	"context"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/events/pipeline"
)

// TestRelayHandlerPublishesUntilTheDeadline runs the relay function's
// handler as a scheduled invocation with a short deadline: it publishes
// what is pending and returns before the deadline.
func TestRelayHandlerPublishesUntilTheDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	s, created, holds := holdEvents(t, e, 3)
	h := pipeline.RelayHandler(e.relay(s.ID, e.publisher()), 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := h(ctx, lambdaevents.EventBridgeEvent{DetailType: "Scheduled Event"})
	if err != nil {
		t.Fatalf("invocation: %v", err)
	}
	if took := time.Since(start); took > 1400*time.Millisecond {
		t.Errorf("invocation took %v, past its deadline less the margin", took)
	}
	mustEqual(t, "published", st.Published, 4)
	checkStreamOnce(t, e, append([]string{created}, holds...))
}

// TestSaleChangesAreEventsOnlyWhenTheyChange checks that a repeated admin
// change writes no event: only real transitions do.
func TestSaleChangesAreEventsOnlyWhenTheyChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, 0)
	s, _, _ := holdEvents(t, e, 0)
	// Resuming a sale that is not paused is a no-op that succeeds.
	if _, err := e.a.Sales.Resume(ctx, s.ID); err != nil {
		t.Fatalf("resume of a running sale: %v", err)
	}
	for range 2 {
		if _, err := e.a.Sales.Pause(ctx, s.ID); err != nil {
			t.Fatalf("pause: %v", err)
		}
	}
	if _, err := e.a.Sales.End(ctx, s.ID); err != nil {
		t.Fatalf("end: %v", err)
	}
	if _, err := e.a.Sales.End(ctx, s.ID); err != nil {
		t.Fatalf("end again: %v", err)
	}
	if _, err := e.relay(s.ID, e.publisher()).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	e.feed(t, batch(records(t, e.kin, e.stream)))
	logged, err := e.eventLog.SaleEvents(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	types := countTypes(logged)
	mustEqual(t, "events", len(logged), 3)
	for _, typ := range []string{"sale_created", "sale_paused", "sale_ended"} {
		mustEqual(t, typ, types[typ], 1)
	}
}
