package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sdkkinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/kinesis"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestBadRecordIsReportedAlone feeds a batch whose second record is not an
// event: every consumer reports exactly that sequence number and handles
// the others; the same batch again reports the same and counts nothing
// twice.
func TestBadRecordIsReportedAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	saleID, productID := testenv.ID("S"), testenv.ID("P")
	at := timestamppb.New(time.Now())
	evs := []*flashsalev1.Event{
		{EventId: testenv.ID("ev"), Type: flashsalev1.EventType_EVENT_TYPE_RESERVED,
			SaleId: saleID, ProductId: productID, UserId: "u1", Quantity: 2, Amount: 1200,
			Currency: "USD", Time: at, HoldId: "r_1"},
		nil, // the bad record
		{EventId: testenv.ID("ev"), Type: flashsalev1.EventType_EVENT_TYPE_CONFIRMED,
			SaleId: saleID, ProductId: productID, UserId: "u1", Quantity: 2, Amount: 1200,
			Currency: "USD", Time: at, HoldId: "r_1", OrderId: "o_1"},
		{EventId: testenv.ID("ev"), Type: flashsalev1.EventType_EVENT_TYPE_REJECTED,
			SaleId: saleID, ProductId: productID, UserId: "u2", Quantity: 1, Amount: 600,
			Currency: "USD", Time: at, Reason: "sold_out"},
	}
	var ev lambdaevents.KinesisEvent
	for i, x := range evs {
		data := []byte("not an event")
		if x != nil {
			data, _ = events.Marshal(x)
		}
		ev.Records = append(ev.Records, lambdaevents.KinesisEventRecord{
			Kinesis: lambdaevents.KinesisRecord{Data: data, PartitionKey: saleID,
				SequenceNumber: strconv.Itoa(1000 + i)}})
	}

	for round := range 2 {
		for name, h := range e.handlers {
			resp, err := h(context.Background(), ev)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var got []string
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if !slices.Equal(got, []string{"1001"}) {
				t.Errorf("round %d, %s: got failures %v, want [1001]", round, name, got)
			}
		}
		logged, err := e.eventLog.SaleEvents(context.Background(), saleID)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "logged events", len(eventIDs(t, logged)), 3)
		var holds, confirms, sold, soldOut int
		err = e.adb.QueryRow(context.Background(), `
			SELECT m.holds, m.confirms, m.units_sold, r.rejections
			FROM flash_sale_metrics m JOIN flash_sale_rejections r USING (sale_id, product_id)
			WHERE sale_id = $1 AND r.reason = 'sold_out'`, saleID).
			Scan(&holds, &confirms, &sold, &soldOut)
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		mustEqual(t, "holds", holds, 1)
		mustEqual(t, "confirms", confirms, 1)
		mustEqual(t, "units sold", sold, 2)
		mustEqual(t, "sold out rejections", soldOut, 1)
		sent, err := e.sent.Sent(context.Background(), saleID)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "notifications", len(sent), 1)
	}
}

// flaky is the real Kinesis client with failure injection: PutRecords
// refuses the entries that refuse chooses (they never reach the stream), as
// Kinesis does for throttled records, and passes the rest on.
type flaky struct {
	kinesis.API
	mu     sync.Mutex
	refuse func(eventID string, attempt int) bool
	seen   map[string]int // puts per event id
	calls  [][]string     // event ids of each PutRecords
}

func newFlaky(api kinesis.API, refuse func(string, int) bool) *flaky {
	return &flaky{API: api, refuse: refuse, seen: map[string]int{}}
}

func (f *flaky) PutRecords(
	ctx context.Context,
	in *sdkkinesis.PutRecordsInput,
	opts ...func(*sdkkinesis.Options),
) (*sdkkinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	var ids []string
	refused := make([]bool, len(in.Records))
	pass := *in
	pass.Records = nil
	for i, r := range in.Records {
		e, err := events.Unmarshal(r.Data)
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		ids = append(ids, e.GetEventId())
		f.seen[e.GetEventId()]++
		refused[i] = f.refuse(e.GetEventId(), f.seen[e.GetEventId()])
		if !refused[i] {
			pass.Records = append(pass.Records, r)
		}
	}
	f.calls = append(f.calls, ids)
	f.mu.Unlock()

	var real []types.PutRecordsResultEntry
	if len(pass.Records) > 0 {
		out, err := f.API.PutRecords(ctx, &pass, opts...)
		if err != nil {
			return nil, err
		}
		real = out.Records
	}
	out := &sdkkinesis.PutRecordsOutput{}
	for _, no := range refused {
		if no {
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode:    aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("injected by the test")})
			continue
		}
		out.Records, real = append(out.Records, real[0]), real[1:]
	}
	return out, nil
}

// holdEvents makes a sale and n holds: one sale_created event in the outbox
// and n reserved events in the product's stream. It returns their ids.
func holdEvents(t *testing.T, e *env, n int) (*flashsale.Sale, string, []string) {
	t.Helper()
	s := testenv.Sale(t, e.a, 100, 100)
	for i := range n {
		_, err := e.a.Inventory.Reserve(context.Background(), inventory.ReserveInput{
			SaleID: s.ID, ProductID: s.Lines[0].ProductID, UserID: "u" + strconv.Itoa(i),
			Qty: 1})
		if err != nil {
			t.Fatalf("reserve: %v", err)
		}
	}
	var created string
	var holds []string
	for id := range pendingIDs(t, e, s) {
		// Stream event ids name the sale product; outbox ids are opaque.
		if strings.Contains(id, ":") {
			holds = append(holds, id)
		} else {
			created = id
		}
	}
	slices.Sort(holds)
	if created == "" || len(holds) != n {
		t.Fatalf("got outbox event %q and %d hold events, want 1 and %d", created,
			len(holds), n)
	}
	return s, created, holds
}

// TestRefusedRecordsAreResentAlone has Kinesis refuse one outbox event and
// one hold event twice each: each resend carries only the refused record,
// and the stream ends with every event exactly once.
func TestRefusedRecordsAreResentAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	s, created, holds := holdEvents(t, e, 5)
	victim := holds[2]
	f := newFlaky(e.kin, func(id string, attempt int) bool {
		return (id == created || id == victim) && attempt <= 2
	})
	st, err := e.relay(s.ID, kinesis.NewPublisher(f, e.stream)).Pass(context.Background())
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	mustEqual(t, "published", st.Published, 6)
	mustEqual(t, "resent", st.Resent, 4)
	want := [][]string{{created}, {created}, {created}, holds, {victim}, {victim}}
	if !slices.EqualFunc(f.calls, want, func(a, b []string) bool {
		return slices.Equal(sorted(a), sorted(b))
	}) {
		t.Errorf("PutRecords calls:\n got %v\nwant %v", f.calls, want)
	}
	checkStreamOnce(t, e, append([]string{created}, holds...))
	if left := pendingIDs(t, e, s); len(left) != 0 {
		t.Errorf("still pending: %v", left)
	}
}

// TestPersistentRefusalKeepsEventsPending has Kinesis refuse one outbox
// event and one hold event on every attempt: the pass fails with
// ErrPending, those two stay in their sources, unmarked, and everything else
// is published. Once Kinesis accepts them, the next pass sends them once.
func TestPersistentRefusalKeepsEventsPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	s, created, holds := holdEvents(t, e, 4)
	victim := holds[1]
	var mu sync.Mutex
	down := true
	f := newFlaky(e.kin, func(id string, _ int) bool {
		mu.Lock()
		defer mu.Unlock()
		return down && (id == created || id == victim)
	})
	relay := e.relay(s.ID, kinesis.NewPublisher(f, e.stream))
	_, err := relay.Pass(context.Background())
	if !errors.Is(err, events.ErrPending) {
		t.Fatalf("pass: got %v, want ErrPending", err)
	}
	mustEqual(t, "attempts for the refused outbox event", f.seen[created],
		events.DefaultRelayConfig().Attempts)
	left := pendingIDs(t, e, s)
	if len(left) != 2 || !left[created] || !left[victim] {
		t.Errorf("pending after refusals: got %v, want %s and %s", left, created, victim)
	}

	mu.Lock()
	down = false
	mu.Unlock()
	if _, err := relay.Pass(context.Background()); err != nil {
		t.Fatalf("pass after recovery: %v", err)
	}
	checkStreamOnce(t, e, append([]string{created}, holds...))
	if left := pendingIDs(t, e, s); len(left) != 0 {
		t.Errorf("still pending: %v", left)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// checkStreamOnce checks that the test's stream holds exactly these events,
// each once.
func checkStreamOnce(t *testing.T, e *env, want []string) {
	t.Helper()
	var got []string
	for _, r := range records(t, e.kin, e.stream) {
		ev, err := events.Unmarshal(r.Data)
		if err != nil {
			t.Fatalf("record %s: %v", aws.ToString(r.SequenceNumber), err)
		}
		got = append(got, ev.GetEventId())
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("events on the stream:\n got %v\nwant %v", sorted(got), sorted(want))
	}
}
