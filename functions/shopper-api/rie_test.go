package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"google.golang.org/protobuf/proto"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
	"github.com/flashsale/flashsale/internal/lambdahttp/lambdatest"
)

// TestUnderRIE runs the built bootstrap under the Lambda runtime interface
// emulator, on pgbouncer as behind RDS Proxy, and replays recorded events
// through the Lambda runtime API.
func TestUnderRIE(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testSecret)
	rie := lambdatest.StartRIE(t, lambdatest.Build(t, "."), 10*time.Second,
		"DATABASE_URL="+lambdatest.PgbouncerURL())

	invoke := func(t *testing.T, name string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev := lambdatest.APIGatewayEvent(t, "testdata/"+name+".json",
			lambdatest.SaleIDInEvents, f.saleID)
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var res events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(rie.Invoke(t, payload), &res); err != nil {
			t.Fatalf("decode response: %v", err)
		}
		return res
	}

	var products struct {
		SaleID   string `json:"saleId"`
		Products []struct {
			ProductID string `json:"productId"`
		} `json:"products"`
	}
	decodeJSON(t, wantStatus(t, invoke(t, "rest-get-sale-products"), http.StatusOK), &products)
	if products.SaleID != f.saleID || len(products.Products) != 2 {
		t.Errorf("REST: got %+v, want sale %s with 2 products", products, f.saleID)
	}
	d := rie.InitDuration(t)
	t.Logf("cold start under the emulator: %v", d)
	if d > 500*time.Millisecond {
		t.Errorf("init took %v, want well under 500ms (target 50ms)", d)
	}

	res := invoke(t, "connect-proto-get-sale-products")
	var msg flashsalev1.GetSaleProductsResponse
	if err := proto.Unmarshal(wantStatus(t, res, http.StatusOK), &msg); err != nil ||
		msg.GetSaleId() != f.saleID {
		t.Errorf("proto: got sale %q (err %v), want %s", msg.GetSaleId(), err, f.saleID)
	}

	var r reservation
	res = invoke(t, "connect-json-reserve-jwt-authorizer")
	decodeJSON(t, wantStatus(t, res, http.StatusOK), &r)
	if r.Status != "RESERVED" {
		t.Errorf("reserve with authorizer claims: got %+v, want RESERVED", r)
	}
}
