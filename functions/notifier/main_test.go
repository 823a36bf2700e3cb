package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/notify"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestRecordedBatch feeds a recorded Kinesis event, whose second record is
// not an event, twice through the function's own wiring: only that record
// is reported, and the confirmed order has one notification.
func TestRecordedBatch(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.Config(t)
	h, err := build(ctx, cfg, testenv.Logger(t))
	if err != nil {
		t.Fatalf("build (is the local stack up?): %v", err)
	}
	raw, err := os.ReadFile("testdata/kinesis-batch-one-bad-record.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev lambdaevents.KinesisEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		resp, err := h(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range resp.BatchItemFailures {
			got = append(got, f.ItemIdentifier)
		}
		if !slices.Equal(got, []string{ev.Records[1].Kinesis.SequenceNumber}) {
			t.Errorf("failures: got %v, want the second record's", got)
		}
	}
	db, err := pipeline.Analytics(ctx, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	table, err := notify.NewTableSender(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := table.Sent(ctx, "FS-FIXTURE")
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Kind != notify.OrderConfirmed || sent[0].UserID != "U-FIXTURE" {
		t.Errorf("notifications: got %+v, want one order confirmation to U-FIXTURE", sent)
	}
}
