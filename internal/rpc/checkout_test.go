package rpc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flashsale/flashsale/internal/flashsale"
	"github.com/flashsale/flashsale/internal/testenv"
)

// TestSeedCheckoutOverRESTAndConnect runs the design's APIs 4 to 6 with its
// own request and response shapes, over the REST routes and Connect JSON.
func TestSeedCheckoutOverRESTAndConnect(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	now := time.Now().UTC()
	id := testenv.ID("FS")
	if code, res := s.call(t, "POST", createREST, s.admin,
		s.seedBody(id, now.Add(-time.Minute), now.Add(time.Hour)), false); code != 200 {
		t.Fatalf("create: got %d %v", code, res)
	}
	routes := map[bool]func(action string) (method, path string){
		false: func(action string) (string, string) {
			return "POST", "/api/flash-sale/" + id + "/" + action
		},
		true: func(action string) (string, string) {
			return "POST", "/flashsale.v1.ShopperService/" +
				map[string]string{"reserve": "Reserve", "confirm": "Confirm",
					"release": "Release"}[action]
		},
	}
	for _, connectRPC := range []bool{false, true} {
		route := routes[connectRPC]
		user := testenv.ID("U")
		token := testenv.Token(t, s.cfg, user, false)
		saleField := ""
		if connectRPC {
			saleField = fmt.Sprintf(`"saleId":%q,`, id)
		}

		method, path := route("reserve")
		code, res := s.call(t, method, path, token, fmt.Sprintf(
			`{%s"userId":%q,"productId":%q,"quantity":1}`, saleField, user, s.p1), connectRPC)
		if code != 200 || res["status"] != "RESERVED" || res["reservationId"] == nil ||
			res["expiresAt"] == nil {
			t.Fatalf("reserve (connect %v): got %d %v", connectRPC, code, res)
		}
		hold := res["reservationId"].(string)

		code, pay := s.call(t, "POST", "/api/payments", "", fmt.Sprintf(
			`{"amount":600,"currency":"USD","reservationId":%q}`, hold), false)
		if code != 200 {
			t.Fatalf("payment: got %d %v", code, pay)
		}
		method, path = route("confirm")
		code, res = s.call(t, method, path, token, fmt.Sprintf(
			`{%s"reservationId":%q,"paymentId":%q}`, saleField, hold, pay["paymentId"]), connectRPC)
		if code != 200 || res["status"] != "CONFIRMED" || res["orderId"] == nil {
			t.Fatalf("confirm (connect %v): got %d %v", connectRPC, code, res)
		}

		// A second hold, released twice: RELEASED both times.
		method, path = route("reserve")
		_, res = s.call(t, method, path, token, fmt.Sprintf(
			`{%s"productId":%q,"quantity":1}`, saleField, s.p1), connectRPC)
		method, path = route("release")
		for range 2 {
			code, out := s.call(t, method, path, token, fmt.Sprintf(`{%s"reservationId":%q}`,
				saleField, res["reservationId"]), connectRPC)
			if code != 200 || out["status"] != "RELEASED" {
				t.Fatalf("release (connect %v): got %d %v", connectRPC, code, out)
			}
		}
	}
}

// The longest ids an admin may choose (64 characters) make the longest
// reservation ids, which confirm and release still accept.
func TestLongestIDsCheckOut(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	longest := func(prefix string) string {
		id := testenv.ID(prefix)
		return id + strings.Repeat("x", 64-len(id))
	}
	saleID, product := longest("FS"), longest("P")
	if err := s.app.Sales.UpsertProducts(context.Background(), []flashsale.Product{
		{ID: product, Name: "Long", BasePriceMinor: 1000, Currency: "USD"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"saleId":%q,"startTime":%q,"endTime":%q,"discountPercent":40,
		"products":[{"productId":%q,"totalQty":10}]}`, saleID,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), product)
	if code, res := s.call(t, "POST", createREST, s.admin, body, false); code != 200 {
		t.Fatalf("create: got %d %v", code, res)
	}
	token := testenv.Token(t, s.cfg, "U-long", false)
	path := "/api/flash-sale/" + saleID + "/"
	reserve := fmt.Sprintf(`{"productId":%q,"quantity":1}`, product)

	code, res := s.call(t, "POST", path+"reserve", token, reserve, false)
	hold, _ := res["reservationId"].(string)
	if code != 200 || len(hold) <= 64 {
		t.Fatalf("reserve: got %d %v, want a reservation id over 64 characters", code, res)
	}
	code, pay := s.call(t, "POST", "/api/payments", "", fmt.Sprintf(
		`{"amount":600,"currency":"USD","reservationId":%q}`, hold), false)
	if code != 200 {
		t.Fatalf("payment: got %d %v", code, pay)
	}
	code, res = s.call(t, "POST", path+"confirm", token, fmt.Sprintf(
		`{"reservationId":%q,"paymentId":%q}`, hold, pay["paymentId"]), false)
	if code != 200 || res["status"] != "CONFIRMED" {
		t.Fatalf("confirm: got %d %v", code, res)
	}
	_, res = s.call(t, "POST", path+"reserve", token, reserve, false)
	code, res = s.call(t, "POST", path+"release", token, fmt.Sprintf(
		`{"reservationId":%q}`, res["reservationId"]), false)
	if code != 200 || res["status"] != "RELEASED" {
		t.Fatalf("release: got %d %v", code, res)
	}
}
