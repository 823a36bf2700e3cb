package rpc_test

import (
	"fmt"
	"testing"
	"time"

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
