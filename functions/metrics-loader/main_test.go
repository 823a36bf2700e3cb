package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestRecordedBatch feeds a recorded Kinesis event, whose second record is
// not an event, twice: only that record is reported, and the fixture sale's
// metrics count each event once, however often the test has run.
func TestRecordedBatch(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.Config(t)
	db, err := pipeline.Analytics(ctx, cfg, analyticsConns)
	if err != nil {
		t.Fatalf("analytics database (is the local stack up?): %v", err)
	}
	t.Cleanup(db.Close)
	h := pipeline.Metrics(db, testenv.Logger(t))
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
	var holds, confirms, sold, revenue int
	err = db.QueryRow(ctx, `SELECT holds, confirms, units_sold, revenue FROM flash_sale_metrics
		WHERE sale_id = 'FS-FIXTURE' AND product_id = 'P-FIXTURE'`).
		Scan(&holds, &confirms, &sold, &revenue)
	if err != nil {
		t.Fatal(err)
	}
	if holds != 1 || confirms != 1 || sold != 1 || revenue != 600 {
		t.Errorf("metrics: got holds %d, confirms %d, sold %d, revenue %d; want 1, 1, 1, 600",
			holds, confirms, sold, revenue)
	}
}
