package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/lambdahttp/lambdatest"
)

// TestUnderRIE runs the built bootstrap under the Lambda runtime interface
// emulator, on pgbouncer as behind RDS Proxy: an admin route answers on the
// JWT authorizer's claims alone.
func TestUnderRIE(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	rie := lambdatest.StartRIE(t, lambdatest.Build(t, "."), 10*time.Second,
		"DATABASE_URL="+lambdatest.PgbouncerURL())

	ev := lambdatest.APIGatewayEvent(t, "testdata/rest-get-sale-jwt-authorizer.json",
		lambdatest.SaleIDInEvents, f.saleID)
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(rie.Invoke(t, payload), &res); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", res.StatusCode, lambdatest.Body(t, res))
	}
	if id, n := saleOf(t, res); id != f.saleID || n != 2 {
		t.Errorf("got sale %q with %d products, want %s with 2", id, n, f.saleID)
	}
	t.Logf("cold start under the emulator: %v", rie.InitDuration(t))
}
