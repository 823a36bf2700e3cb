package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/aws/aws-sdk-go-v2/aws"
	sdkkinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/events"
	"github.com/flashsale/flashsale/internal/events/pipeline"
	"github.com/flashsale/flashsale/internal/kinesis"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestSaleReport creates a sale with the tool and shops it through the
// shopper API: one hold paid and confirmed, one whose payment is declined
// and which is then released. Before the events travel, report shows the
// PostgreSQL orders; after the relay and the metrics loader ran on a stream
// of the test's own, it shows the counts and that both sides agree.
func TestSaleReport(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	id := uniqueID("ADM-REPORT")
	now := time.Now()
	want(t, "create", s.admin("create", "-f",
		saleFile(t, "fs1001.json", id, now.Add(-time.Minute), now.Add(time.Hour))), exitOK)

	sh := newShopper(s)
	paid := sh.reserve(t, id, "P101")
	sh.confirm(t, id, paid, "PAID")
	declined := sh.reserve(t, id, "P101")
	if err := sh.tryConfirm(t, id, declined, "DECLINED"); err == nil {
		t.Fatal("confirm with a declined payment: got an order, want an error")
	}
	sh.release(t, id, declined)
	amount := money(int64(paid.res.GetAmount()), paid.res.GetCurrency())

	// PostgreSQL has the order at once, whatever the analytics say yet.
	r := s.admin("report", id)
	want(t, "report before the events", r, exitOK, "sale    ", id, "consistent  ",
		"orders (PostgreSQL)")
	wantRow(t, r.stdout, "orders (PostgreSQL)", "P101", " 1000 1 1 "+amount)

	runPipeline(t, s, id)
	got := waitForReport(t, s, id, func(p *flashsalev1.ProductReport) bool {
		return p.GetHolds() == 2 && p.GetReleases() == 1 && p.GetConfirms() == 1 &&
			p.GetRejectionsTotal() == 1
	})
	if !got.GetConsistent() || len(got.GetDiscrepancies()) > 0 {
		t.Errorf("report: got consistent %v with %q, want agreement",
			got.GetConsistent(), got.GetDiscrepancies())
	}
	wantP101 := &flashsalev1.ProductReport{ProductId: "P101",
		Currency: paid.res.GetCurrency(), TotalQty: 1000, UnitsSold: 1,
		Revenue: int64(paid.res.GetAmount()), Holds: 2, Confirms: 1, Releases: 1,
		Rejections: map[string]int32{"payment_declined": 1}, RejectionsTotal: 1,
		Conversion: 0.5, OrdersUnits: 1, OrdersRevenue: int64(paid.res.GetAmount()),
		OrdersCount: 1, Consistent: true}
	gotP101 := proto.CloneOf(productOf(t, got, "P101"))
	gotP101.Name = "" // other packages' tests may rename P101
	if !proto.Equal(gotP101, wantP101) {
		t.Errorf("report P101: got %v, want %v", gotP101, wantP101)
	}

	r = s.admin("report", id)
	want(t, "report", r, exitOK, "yes: the analytics agree with the PostgreSQL orders")
	wantRow(t, r.stdout, "events (analytics store)", "P101",
		"P101 1 "+amount+" 2 1 1 0 0 50.0% 1 (payment_declined 1)")
	wantRow(t, r.stdout, "events (analytics store)", "P102", "P102 0 0 ")
	wantRow(t, r.stdout, "orders (PostgreSQL)", "P101", " 1000 1 1 "+amount+" yes")
}

// reportJSON runs report --output json and parses its output.
func reportJSON(t *testing.T, s *stack, id string) *flashsalev1.GetSaleReportResponse {
	t.Helper()
	r := s.admin("report", id, "--output", "json")
	if r.code != exitOK {
		t.Fatalf("report --output json: %s", r)
	}
	var res flashsalev1.GetSaleReportResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("report --output json: %v\n%s", err, r.stdout)
	}
	return &res
}

// waitForReport polls the report until P101 satisfies done and both sides
// agree: the loader sees the events from the outbox and from Redis in
// separate batches.
func waitForReport(
	t *testing.T,
	s *stack,
	id string,
	done func(*flashsalev1.ProductReport) bool,
) *flashsalev1.GetSaleReportResponse {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := reportJSON(t, s, id)
		if res.GetConsistent() && done(productOf(t, res, "P101")) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("report: got %v after 15s, want the events counted", res)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func productOf(
	t *testing.T,
	res *flashsalev1.GetSaleReportResponse,
	productID string,
) *flashsalev1.ProductReport {
	t.Helper()
	for _, p := range res.GetProducts() {
		if p.GetProductId() == productID {
			return p
		}
	}
	t.Fatalf("report: got no product %s in %v", productID, res)
	return nil
}

// wantRow fails the test unless the table under heading has a row for
// product that, with its spaces squeezed, contains want.
func wantRow(t *testing.T, out, heading, product, want string) {
	t.Helper()
	_, table, ok := strings.Cut(out, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("report: no %q table\n%s", heading, out)
	}
	table, _, _ = strings.Cut(table, "\n\n")
	for _, line := range strings.Split(table, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == product {
			if row := strings.Join(fields, " "); !strings.Contains(row, want) {
				t.Errorf("report %s, %s: got %q, want it to contain %q", heading, product,
					row, want)
			}
			return
		}
	}
	t.Errorf("report %s: got no row for %s\n%s", heading, product, out)
}

// runPipeline runs, until the test ends, a relay of the sale's events onto
// a Kinesis stream of the test's own and the metrics loader that reads it
// into the analytics store, as the local server's pipeline does.
func runPipeline(t *testing.T, s *stack, saleID string) {
	t.Helper()
	kin, err := kinesis.NewClient(context.Background(), s.cfg.AWSEndpointURL)
	if err != nil {
		t.Fatalf("kinesis client: %v", err)
	}
	stream := createStream(t, kin)
	cfg := events.DefaultRelayConfig()
	cfg.SaleIDs = []string{saleID}
	cfg.Backoff, cfg.Interval = 10*time.Millisecond, 20*time.Millisecond
	relay := pipeline.NewRelay(s.app, kinesis.NewPublisher(kin, stream), cfg)
	handlers := map[string]events.KinesisHandler{
		pipeline.MetricsName: pipeline.Metrics(s.adb, s.app.Log)}
	poller := kinesis.NewPoller(kin, stream, handlers,
		kinesis.PollerConfig{Interval: 20 * time.Millisecond}, s.app.Log)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = relay.Run(ctx) })
	wg.Go(func() { _ = poller.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// createStream makes a one-shard stream and deletes it when the test ends.
func createStream(t *testing.T, kin *sdkkinesis.Client) string {
	t.Helper()
	ctx := context.Background()
	name := uniqueID("admin-report-events")
	_, err := kin.CreateStream(ctx, &sdkkinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(1)})
	if err != nil {
		t.Fatalf("create stream %s (is the local stack up?): %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = kin.DeleteStream(context.Background(),
			&sdkkinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := kin.DescribeStreamSummary(ctx, &sdkkinesis.DescribeStreamSummaryInput{
			StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s: not active after 10s (%v)", name, err)
		}
	}
}

// shopper calls the shopper API and the payment simulator of the stack,
// with a fresh user for every hold.
type shopper struct {
	s        *stack
	shop     flashsalev1connect.ShopperServiceClient
	payments flashsalev1connect.PaymentSimulatorServiceClient
}

// hold is a reservation and the user who made it.
type hold struct {
	user, token string
	res         *flashsalev1.ReserveResponse
}

func newShopper(s *stack) *shopper {
	hc, url := http.DefaultClient, s.srv.URL
	return &shopper{s: s, shop: flashsalev1connect.NewShopperServiceClient(hc, url),
		payments: flashsalev1connect.NewPaymentSimulatorServiceClient(hc, url)}
}

func signed[T any](token string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+token)
	return req
}

// reserve holds one unit of a product for a new user.
func (sh *shopper) reserve(t *testing.T, saleID, productID string) hold {
	t.Helper()
	h := hold{user: uniqueID("U")}
	h.token = testenv.Token(t, sh.s.cfg, h.user, false)
	res, err := sh.shop.Reserve(context.Background(), signed(h.token,
		&flashsalev1.ReserveRequest{SaleId: saleID, ProductId: productID, Quantity: 1}))
	if err != nil {
		t.Fatalf("reserve %s: %v", productID, err)
	}
	h.res = res.Msg
	return h
}

// tryConfirm pays for a hold with the outcome given, PAID or DECLINED, and
// confirms it with that payment.
func (sh *shopper) tryConfirm(t *testing.T, saleID string, h hold, outcome string) error {
	t.Helper()
	ctx := context.Background()
	pay, err := sh.payments.CreatePayment(ctx, signed(h.token, &flashsalev1.CreatePaymentRequest{
		Amount: h.res.GetAmount(), Currency: h.res.GetCurrency(), Outcome: outcome,
		ReservationId: h.res.GetReservationId()}))
	if err != nil {
		t.Fatalf("create payment: %v", err)
	}
	_, err = sh.shop.Confirm(ctx, signed(h.token, &flashsalev1.ConfirmRequest{SaleId: saleID,
		ReservationId: h.res.GetReservationId(), PaymentId: pay.Msg.GetPaymentId()}))
	return err
}

func (sh *shopper) confirm(t *testing.T, saleID string, h hold, outcome string) {
	t.Helper()
	if err := sh.tryConfirm(t, saleID, h, outcome); err != nil {
		t.Fatalf("confirm: %v", err)
	}
}

func (sh *shopper) release(t *testing.T, saleID string, h hold) {
	t.Helper()
	_, err := sh.shop.Release(context.Background(), signed(h.token,
		&flashsalev1.ReleaseRequest{SaleId: saleID, ReservationId: h.res.GetReservationId()}))
	if err != nil {
		t.Fatalf("release: %v", err)
	}
}

// TestReportTable checks the table of a report, agreeing or not, without
// a server.
func TestReportTable(t *testing.T) {
	t.Parallel()
	p101 := &flashsalev1.ProductReport{ProductId: "P101", Name: "Wireless Earbuds",
		Currency: "USD", TotalQty: 10, UnitsSold: 3, Revenue: 1800, Holds: 4, Confirms: 3,
		Releases: 1, Rejections: map[string]int32{"sold_out": 2, "payment_declined": 1},
		RejectionsTotal: 3, Conversion: 0.75, OrdersUnits: 3, OrdersRevenue: 1800,
		OrdersCount: 3, Consistent: true}
	p102 := &flashsalev1.ProductReport{ProductId: "P102", Name: "Smart Watch",
		TotalQty: 5, OrdersUnits: 1, OrdersRevenue: 1500, OrdersCount: 1}
	tests := []struct {
		name string
		res  *flashsalev1.GetSaleReportResponse
		want []string
	}{
		{"agree", &flashsalev1.GetSaleReportResponse{SaleId: "FS1", Status: "ENDED",
			Consistent: true, Products: []*flashsalev1.ProductReport{p101},
			GeneratedAt: timestamppb.New(time.Date(2026, 1, 20, 12, 0, 0, 0, time.UTC))},
			[]string{
				"sale        FS1\n",
				"status      ENDED\n",
				"generated   2026-01-20T12:00:00Z\n",
				"consistent  yes: the analytics agree with the PostgreSQL orders\n",
				"P101     3     1800 USD       4      3         1         0         0" +
					"        75.0%       3 (payment_declined 1, sold_out 2)\n",
				"P101     Wireless Earbuds  10     3       3      1800 USD       yes\n",
			}},
		{"disagree", &flashsalev1.GetSaleReportResponse{SaleId: "FS2", Status: "ACTIVE",
			Products:      []*flashsalev1.ProductReport{p102},
			Discrepancies: []string{"P102: analytics units_sold 0, orders 1"}},
			[]string{
				"generated   -\n",
				"consistent  no: the analytics disagree with the PostgreSQL orders",
				"\n  P102: analytics units_sold 0, orders 1\n",
				"P102     0     0              0      0         0         0         0" +
					"        -           0\n",
				"P102     Smart Watch  5      1       1      1500           no\n",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := (printer{w: &out}).report(tt.res); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("got table\n%s\nwant it to contain %q", out.String(), w)
				}
			}
		})
	}
}
