package lambdahttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/lambdahttp"
	"github.com/flashsale/flashsale/internal/lambdahttp/lambdatest"
)

const echoEvent = "testdata/echo-commas-base64.json"

// echoed is what the echo handler saw.
type echoed struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	RawPath  string              `json:"rawPath"`
	Query    map[string][]string `json:"query"`
	Header   map[string][]string `json:"header"`
	Body     []byte              `json:"body"`
	Flusher  bool                `json:"flusher"`
	FlushErr string              `json:"flushErr"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, flusher := w.(http.Flusher)
	var flushErr string
	if err := http.NewResponseController(w).Flush(); err != nil {
		flushErr = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.Path,
		RawPath: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header, Body: body,
		Flusher: flusher, FlushErr: flushErr})
}

func invoke(
	t *testing.T,
	h http.Handler,
	opts lambdahttp.Options,
	ev events.APIGatewayV2HTTPRequest,
) events.APIGatewayV2HTTPResponse {
	t.Helper()
	adapter := lambdahttp.New(h, slog.New(slog.DiscardHandler), opts)
	res, err := adapter.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return res
}

func invokeEcho(t *testing.T, ev events.APIGatewayV2HTTPRequest) echoed {
	t.Helper()
	res := invoke(t, http.HandlerFunc(echo), lambdahttp.Options{}, ev)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200: %s", res.StatusCode, res.Body)
	}
	var got echoed
	if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
		t.Fatalf("decode echo: %v", err)
	}
	return got
}

func TestInvokeKeepsHeadersWithCommas(t *testing.T) {
	t.Parallel()
	ev := lambdatest.APIGatewayEvent(t, echoEvent)
	got := invokeEcho(t, ev)
	for name, want := range ev.Headers {
		key := http.CanonicalHeaderKey(name)
		if v := got.Header[key]; !slices.Equal(v, []string{want}) {
			t.Errorf("header %s: got %q, want [%q]", key, v, want)
		}
	}
	if v := got.Header["Cookie"]; !slices.Equal(v, ev.Cookies) {
		t.Errorf("cookies: got %q, want %q", v, ev.Cookies)
	}
	if got.Method != http.MethodPost || got.Path != "/echo/a/b" || got.RawPath != "/echo/a%2Fb" {
		t.Errorf("got %s %s (raw %s), want POST /echo/a/b (raw /echo/a%%2Fb)",
			got.Method, got.Path, got.RawPath)
	}
	if q := got.Query["tag"]; !slices.Equal(q, []string{"x", "y"}) {
		t.Errorf("query tag: got %q, want [x y]", q)
	}
}

func TestInvokeDecodesBase64Body(t *testing.T) {
	t.Parallel()
	ev := lambdatest.APIGatewayEvent(t, echoEvent)
	want, _ := base64.StdEncoding.DecodeString(ev.Body)
	if got := invokeEcho(t, ev).Body; !bytes.Equal(got, want) {
		t.Errorf("body: got %x, want %x", got, want)
	}
}

func TestInvokeRejectsBadBase64(t *testing.T) {
	t.Parallel()
	ev := lambdatest.APIGatewayEvent(t, echoEvent)
	ev.Body = "not base64!"
	res := invoke(t, http.HandlerFunc(echo), lambdahttp.Options{}, ev)
	invalid := strings.Contains(res.Body, `"invalid_argument"`)
	if res.StatusCode != http.StatusBadRequest || !invalid {
		t.Errorf("got %d %s, want 400 invalid_argument", res.StatusCode, res.Body)
	}
}

func TestInvokeEncodesBinaryResponse(t *testing.T) {
	t.Parallel()
	want := []byte{0x0a, 0x03, 0xff, 0x00, 0xfe}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/proto")
		_, _ = w.Write(want)
	})
	res := invoke(t, h, lambdahttp.Options{}, lambdatest.APIGatewayEvent(t, echoEvent))
	got, err := base64.StdEncoding.DecodeString(res.Body)
	if !res.IsBase64Encoded || err != nil || !bytes.Equal(got, want) {
		t.Errorf("got base64 %v body %q, want base64 of %x", res.IsBase64Encoded, res.Body, want)
	}
}

func TestInvokeWriterIsFlusher(t *testing.T) {
	t.Parallel()
	got := invokeEcho(t, lambdatest.APIGatewayEvent(t, echoEvent))
	if !got.Flusher || got.FlushErr != "" {
		t.Errorf("got flusher %v, flush error %q; want a flusher without error",
			got.Flusher, got.FlushErr)
	}
}

func TestInvokeEmptyAnswerIsOK(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	res := invoke(t, h, lambdahttp.Options{}, lambdatest.APIGatewayEvent(t, echoEvent))
	if res.StatusCode != http.StatusOK || res.Body != "" {
		t.Errorf("got %d %q, want 200 and no body", res.StatusCode, res.Body)
	}
}

func TestInvokeRequestID(t *testing.T) {
	t.Parallel()
	ev := lambdatest.APIGatewayEvent(t, echoEvent)
	got := invokeEcho(t, ev).Header["X-Request-Id"]
	if !slices.Equal(got, []string{"ECqC1hRRDoEEJxQ="}) {
		t.Errorf("without a header: got %q, want API Gateway's request id", got)
	}
	ev.Headers["x-request-id"] = "client-7"
	if got = invokeEcho(t, ev).Header["X-Request-Id"]; !slices.Equal(got, []string{"client-7"}) {
		t.Errorf("with a header: got %q, want the caller's id", got)
	}
}

func TestInvokeStripsNamedStage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stage, rawPath, want string
	}{
		{"$default", "/api/flash-sale/active", "/api/flash-sale/active"},
		{"$default", "/prod/api/flash-sale/active", "/prod/api/flash-sale/active"},
		{"", "/api/flash-sale/active", "/api/flash-sale/active"},
		{"prod", "/prod/api/flash-sale/active", "/api/flash-sale/active"},
		{"prod", "/prod", "/"},
		{"prod", "/api/flash-sale/active", "/api/flash-sale/active"},
		{"prod", "/production/api", "/production/api"},
	}
	for _, tt := range tests {
		t.Run(tt.stage+tt.rawPath, func(t *testing.T) {
			t.Parallel()
			ev := lambdatest.APIGatewayEvent(t, echoEvent)
			ev.RequestContext.Stage = tt.stage
			ev.RawPath, ev.RequestContext.HTTP.Path = tt.rawPath, tt.rawPath
			if got := invokeEcho(t, ev).Path; got != tt.want {
				t.Errorf("got path %s, want %s", got, tt.want)
			}
		})
	}
}

func TestInvokeIdentity(t *testing.T) {
	t.Parallel()
	local := auth.NewHS256("test-secret")
	shopperToken, err := local.Mint("U7001", false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.NewAuthenticator(local)
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := authn.Identify(r.Context(), r.Header)
		if err != nil {
			http.Error(w, "anonymous", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(id)
	})
	admin := map[string]string{"sub": "U9001", "cognito:groups": "[admin]"}
	adminID := &auth.Identity{Subject: "U9001", Admin: true}
	tests := []struct {
		name           string
		claims         map[string]string
		bearer         string
		authorizerOnly bool
		want           *auth.Identity // nil: anonymous
	}{
		{"authorizer admin", admin, "", false, adminID},
		{"authorizer wins over bearer", map[string]string{"sub": "U9001"}, shopperToken, false,
			&auth.Identity{Subject: "U9001"}},
		{"bearer without authorizer", nil, shopperToken, false, &auth.Identity{Subject: "U7001"}},
		{"nothing", nil, "", false, nil},
		{"authorizer only ignores bearer", nil, shopperToken, true, nil},
		{"authorizer only with claims", admin, "", true, adminID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := lambdatest.APIGatewayEvent(t, echoEvent)
			if tt.claims != nil {
				ev.RequestContext.Authorizer = authorizer(tt.claims)
			}
			if tt.bearer != "" {
				ev.Headers["authorization"] = "Bearer " + tt.bearer
			}
			res := invoke(t, whoami, lambdahttp.Options{AuthorizerOnly: tt.authorizerOnly}, ev)
			if tt.want == nil {
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("got %d %s, want 401", res.StatusCode, res.Body)
				}
				return
			}
			var got auth.Identity
			if err := json.Unmarshal([]byte(res.Body), &got); err != nil || got != *tt.want {
				t.Errorf("got %d %s, want %+v", res.StatusCode, res.Body, *tt.want)
			}
		})
	}
}

// authorizer is the request context of a route with a JWT authorizer.
func authorizer(
	claims map[string]string,
) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		headers     map[string]string
		wantStatus  int
		wantOrigin  string
		wantHeaders []string // in Access-Control-Allow-Headers
		wantExpose  bool
	}{
		{
			name:   "preflight",
			method: http.MethodOptions,
			headers: map[string]string{"origin": "https://shop.example.com",
				"access-control-request-method":  "POST",
				"access-control-request-headers": "connect-protocol-version,content-type"},
			wantStatus: http.StatusNoContent, wantOrigin: "*",
			wantHeaders: []string{"connect-protocol-version", "content-type", "authorization",
				"idempotency-key", "connect-timeout-ms"},
		},
		{
			name:       "options that is not a preflight",
			method:     http.MethodOptions,
			headers:    map[string]string{"origin": "https://shop.example.com"},
			wantStatus: http.StatusOK, wantOrigin: "*", wantExpose: true,
		},
		{
			name:       "cross-origin request",
			method:     http.MethodPost,
			headers:    map[string]string{"origin": "https://shop.example.com"},
			wantStatus: http.StatusOK, wantOrigin: "*", wantExpose: true,
		},
		{name: "same-origin request", method: http.MethodPost, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := lambdatest.APIGatewayEvent(t, echoEvent)
			ev.RequestContext.HTTP.Method = tt.method
			for k, v := range tt.headers {
				ev.Headers[k] = v
			}
			res := invoke(t, http.HandlerFunc(echo), lambdahttp.Options{}, ev)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Headers["Access-Control-Allow-Origin"]; got != tt.wantOrigin {
				t.Errorf("allow origin: got %q, want %q", got, tt.wantOrigin)
			}
			allowed := strings.ToLower(res.Headers["Access-Control-Allow-Headers"])
			for _, h := range tt.wantHeaders {
				if !slices.Contains(strings.Split(allowed, ", "), h) {
					t.Errorf("allow headers %q: %s missing", allowed, h)
				}
			}
			if got := res.Headers["Access-Control-Expose-Headers"] != ""; got != tt.wantExpose {
				t.Errorf("expose headers set: got %v, want %v", got, tt.wantExpose)
			}
		})
	}
}
