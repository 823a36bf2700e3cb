package lambdahttp

import (
	"net/http"
	"strings"
)

// Headers a browser may send and read. Connect needs
// Connect-Protocol-Version (and Connect-Timeout-Ms when the client sets a
// deadline); reserve needs Idempotency-Key.
var (
	corsAllowHeaders = strings.Join([]string{"Authorization", "Content-Type",
		"Connect-Protocol-Version", "Connect-Timeout-Ms", "Idempotency-Key",
		"X-Request-Id"}, ", ")
	corsExposeHeaders = strings.Join([]string{"X-Request-Id", "Grpc-Status",
		"Grpc-Message", "Grpc-Status-Details-Bin"}, ", ")
)

// CORS answers browser preflight requests itself and lets browsers read the
// answers to the others. In AWS the HTTP API's own CORS configuration answers
// preflights before they reach Lambda, and API Gateway then ignores these
// headers; this middleware makes the function behave the same without it.
//
// NOTE: any origin is allowed. Requests carry bearer tokens, not cookies, so
// a page on another origin cannot act as a signed-in shopper; restrict the
// origins in API Gateway's CORS configuration when the frontends are known.
func CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "7200")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}
