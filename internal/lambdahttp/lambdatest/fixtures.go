package lambdatest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/sale"
)

// SaleIDInEvents is the sale id that recorded events name; tests replace it
// with the id of the sale they created, which has the same length.
const SaleIDInEvents = "FS-LAMBDA-00000000"

// Products of the fixture sale, in the catalog at fixed prices.
var Products = []flashsale.Product{
	{ID: "LAMBDA-P1", Name: "Lambda Earbuds", BasePriceMinor: 2500, Currency: "USD"},
	{ID: "LAMBDA-P2", Name: "Lambda Watch", BasePriceMinor: 9900, Currency: "USD"},
}

// SeedSale creates an active sale of Products for this test, 40% off with a
// per-user limit of 5, and returns its id. The sale is ended when the test
// ends, so it does not linger in other tests' lists of active sales.
func SeedSale(tb testing.TB, sales *sale.Service) string {
	tb.Helper()
	ctx := context.Background()
	if err := sales.UpsertProducts(ctx, Products); err != nil {
		tb.Fatalf("seed catalog (is the local stack up? localstack/up.sh): %v", err)
	}
	id := "FS-LAMBDA-" + strings.ToUpper(rand.Text()[:8])
	now := time.Now().UTC().Truncate(time.Second)
	_, err := sales.Create(ctx, sale.CreateInput{
		ID: id, Start: now.Add(-time.Minute), End: now.Add(30 * time.Minute),
		DiscountPercent: 40, PerUserLimit: 5,
		Lines: []sale.LineInput{{ProductID: "LAMBDA-P1", TotalQty: 1000},
			{ProductID: "LAMBDA-P2", TotalQty: 50}},
	})
	if err != nil {
		tb.Fatalf("seed sale: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := sales.End(context.Background(), id); err != nil {
			tb.Errorf("end sale %s: %v", id, err)
		}
	})
	return id
}

// PgbouncerURL is the local stack's pgbouncer in transaction mode, which
// stands in for RDS Proxy: PGBOUNCER_URL, else its default address.
func PgbouncerURL() string {
	if u := os.Getenv("PGBOUNCER_URL"); u != "" {
		return u
	}
	return "postgres://flashsale:flashsale@127.0.0.1:16432/flashsale?sslmode=disable"
}

// WithApplicationName returns a database URL whose connections carry an
// application name, so a test can find (and kill) exactly its backends.
func WithApplicationName(tb testing.TB, databaseURL, name string) string {
	tb.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		tb.Fatalf("parse database url: %v", err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Body returns a response's body as the client sees it: base64 decoded and
// gunzipped when the function compressed it.
func Body(tb testing.TB, res events.APIGatewayV2HTTPResponse) []byte {
	tb.Helper()
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
			tb.Fatalf("response body is not base64: %v", err)
		}
	}
	if !strings.EqualFold(header(res.Headers, "Content-Encoding"), "gzip") {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("gunzip response: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gunzip response: %v", err)
	}
	return plain
}

func header(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
