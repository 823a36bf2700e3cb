package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/dynamo"
	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestRecordedBatch feeds a recorded Kinesis event, whose second record is
// not an event, twice: only that record is reported, and the event log holds
// each event of the fixture sale once, however often the test has run.
func TestRecordedBatch(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.Config(t)
	h, err := pipeline.EventLog(ctx, cfg, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ev := recorded(t, "testdata/kinesis-batch-one-bad-record.json")
	for range 2 {
		resp, err := h(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		bad := ev.Records[1].Kinesis.SequenceNumber
		if got := failures(resp); !slices.Equal(got, []string{bad}) {
			t.Errorf("failures: got %v, want [%s]", got, bad)
		}
	}
	client, err := dynamo.NewClient(ctx, cfg.AWSEndpointURL)
	if err != nil {
		t.Fatal(err)
	}
	logged, err := dynamo.NewEventLog(client, cfg.EventsTable).SaleEvents(ctx, "FS-FIXTURE")
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != 2 {
		t.Errorf("logged events of FS-FIXTURE: got %d, want 2", len(logged))
	}
}

func recorded(t *testing.T, path string) lambdaevents.KinesisEvent {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev lambdaevents.KinesisEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return ev
}

func failures(resp lambdaevents.KinesisEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}
