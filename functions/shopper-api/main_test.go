package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"google.golang.org/protobuf/proto"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
	"github.com/flashsale/flashsale/internal/lambdahttp"
	"github.com/flashsale/flashsale/internal/lambdahttp/lambdatest"
	"github.com/flashsale/flashsale/internal/postgres"
)

// testSecret signs the bearer tokens of these tests. It is not the public
// development secret, so the function trusts bearer tokens as well.
const testSecret = "shopper-api-test-secret"

// fixture is the function as Lambda runs it, on the local stack, and a sale
// created for the test.
type fixture struct {
	h      *lambdahttp.Handler
	saleID string
	token  string // bearer token of U9001
}

func newFixture(t *testing.T, secret string) fixture {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.JWTSecret = secret
	ctx := context.Background()
	if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
		t.Fatalf("migrate (is the local stack up? localstack/up.sh): %v", err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	a, h, err := build(ctx, cfg, log)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(a.Close)
	token, err := auth.NewHS256(secret).Mint("U9001", false, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{h: h, saleID: lambdatest.SeedSale(t, a.Sales), token: token}
}

// invoke replays a recorded event against the fixture's sale.
func (f fixture) invoke(t *testing.T, name string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := lambdatest.APIGatewayEvent(t, filepath.Join("testdata", name+".json"),
		lambdatest.SaleIDInEvents, f.saleID, "{{SHOPPER_TOKEN}}", f.token)
	res, err := f.h.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	return res
}

func wantStatus(t *testing.T, res events.APIGatewayV2HTTPResponse, want int) []byte {
	t.Helper()
	body := lambdatest.Body(t, res)
	if res.StatusCode != want {
		t.Fatalf("got status %d, want %d: %s", res.StatusCode, want, body)
	}
	return body
}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// activeSales lists the ids in a ListActiveSales answer (Connect or REST).
func activeSales(t *testing.T, body []byte) []string {
	t.Helper()
	var res struct {
		Sales []struct {
			SaleID string `json:"saleId"`
		} `json:"sales"`
	}
	decodeJSON(t, body, &res)
	var ids []string
	for _, s := range res.Sales {
		ids = append(ids, s.SaleID)
	}
	return ids
}

// response is a function's answer to a recorded event.
type response = events.APIGatewayV2HTTPResponse

func TestRecordedReads(t *testing.T) {
	f := newFixture(t, testSecret)
	tests := []struct {
		event string
		check func(t *testing.T, f fixture, res response)
	}{
		{"connect-json-list-active-sales", checkActiveCrossOrigin},
		{"connect-proto-get-sale-products", checkProductsProto},
		{"rest-get-sale-products", checkProductsREST},
		{"rest-list-active-default-stage", checkActive},
		{"rest-list-active-named-stage", checkActive},
		{"cors-preflight", checkPreflight},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			t.Parallel()
			tt.check(t, f, f.invoke(t, tt.event))
		})
	}
}

func checkActive(t *testing.T, f fixture, res response) {
	t.Helper()
	ids := activeSales(t, wantStatus(t, res, http.StatusOK))
	if !slices.Contains(ids, f.saleID) {
		t.Errorf("active sales %v: %s missing", ids, f.saleID)
	}
}

func checkActiveCrossOrigin(t *testing.T, f fixture, res response) {
	checkActive(t, f, res)
	if got := res.Headers["Access-Control-Allow-Origin"]; got != "*" {
		t.Errorf("cross-origin answer: got allow origin %q, want *", got)
	}
}

func checkProductsProto(t *testing.T, f fixture, res response) {
	var got flashsalev1.GetSaleProductsResponse
	if err := proto.Unmarshal(wantStatus(t, res, http.StatusOK), &got); err != nil {
		t.Fatalf("decode proto: %v", err)
	}
	if got.GetSaleId() != f.saleID || len(got.GetProducts()) != 2 {
		t.Fatalf("got sale %s with %d products, want %s with 2",
			got.GetSaleId(), len(got.GetProducts()), f.saleID)
	}
	p := got.GetProducts()[0]
	if p.GetSalePrice() != 1500 || p.GetOriginalPrice() != 2500 {
		t.Errorf("got prices %d/%d, want 1500/2500", p.GetSalePrice(), p.GetOriginalPrice())
	}
}

func checkProductsREST(t *testing.T, f fixture, res response) {
	var got struct {
		SaleID   string `json:"saleId"`
		Status   string `json:"status"`
		Products []struct {
			ProductID    string `json:"productId"`
			SalePrice    int    `json:"salePrice"`
			AvailableQty int    `json:"availableQty"`
		} `json:"products"`
	}
	decodeJSON(t, wantStatus(t, res, http.StatusOK), &got)
	if got.SaleID != f.saleID || got.Status != "ACTIVE" || len(got.Products) != 2 {
		t.Fatalf("got %+v, want sale %s ACTIVE with 2 products", got, f.saleID)
	}
	p := got.Products[1]
	if p.ProductID != "LAMBDA-P2" || p.SalePrice != 5940 || p.AvailableQty != 50 {
		t.Errorf("got %+v, want LAMBDA-P2 at 5940 with 50 available", p)
	}
}

func checkPreflight(t *testing.T, _ fixture, res response) {
	wantStatus(t, res, http.StatusNoContent)
	allowed := strings.Split(strings.ToLower(res.Headers["Access-Control-Allow-Headers"]), ", ")
	for _, h := range []string{"connect-protocol-version", "content-type", "authorization",
		"idempotency-key", "connect-timeout-ms"} {
		if !slices.Contains(allowed, h) {
			t.Errorf("allow headers %v: %s missing", allowed, h)
		}
	}
	if methods := res.Headers["Access-Control-Allow-Methods"]; !strings.Contains(methods, "POST") {
		t.Errorf("allow methods %q: POST missing", methods)
	}
}

type reservation struct {
	ReservationID string `json:"reservationId"`
	Status        string `json:"status"`
	Amount        int    `json:"amount"`
}

// TestRecordedReserves runs in order: the same idempotency key answers with
// the same hold, and a key that differs only after its comma makes another
// hold, which proves the header arrived whole.
func TestRecordedReserves(t *testing.T) {
	f := newFixture(t, testSecret)
	reserve := func(t *testing.T, event string) reservation {
		t.Helper()
		var r reservation
		decodeJSON(t, wantStatus(t, f.invoke(t, event), http.StatusOK), &r)
		if r.Status != "RESERVED" || r.Amount != 1500 || r.ReservationID == "" {
			t.Fatalf("got %+v, want RESERVED for 1500", r)
		}
		return r
	}

	first := reserve(t, "rest-reserve-bearer")
	if again := reserve(t, "rest-reserve-bearer"); again.ReservationID != first.ReservationID {
		t.Errorf("replay: got hold %s, want %s", again.ReservationID, first.ReservationID)
	}
	other := reserve(t, "connect-json-reserve-jwt-authorizer")
	if other.ReservationID == first.ReservationID {
		t.Errorf("key %q and %q share hold %s: the header lost what follows its comma",
			"cart-42, attempt-1", "cart-42, attempt-2", first.ReservationID)
	}

	body := wantStatus(t, f.invoke(t, "rest-reserve-anonymous"), http.StatusUnauthorized)
	var e struct{ Code string }
	if decodeJSON(t, body, &e); e.Code != "unauthenticated" {
		t.Errorf("anonymous: got code %q, want unauthenticated", e.Code)
	}
}

// TestDevSecretTrustsOnlyTheAuthorizer: deployed without a signing secret,
// the function must not accept tokens signed with the public development
// secret, while the authorizer's claims still work.
func TestDevSecretTrustsOnlyTheAuthorizer(t *testing.T) {
	f := newFixture(t, config.DevJWTSecret)
	wantStatus(t, f.invoke(t, "rest-reserve-bearer"), http.StatusUnauthorized)
	wantStatus(t, f.invoke(t, "connect-json-reserve-jwt-authorizer"), http.StatusOK)
}
