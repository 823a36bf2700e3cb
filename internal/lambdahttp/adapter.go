// Package lambdahttp serves an http.Handler from AWS Lambda behind an API
// Gateway HTTP API (payload format 2.0). It builds on aws-lambda-go-api-proxy
// and repairs what that library gets wrong for this service: header values
// containing commas, a response writer that is not an http.Flusher, a stage
// name in the path, and a handler that writes nothing. It also hands the JWT
// authorizer's claims to the auth package, so the identity of a caller comes
// from API Gateway in AWS and from the bearer token locally, through the same
// auth.Authenticator.
package lambdahttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/config"
)

// Options tune a Handler.
type Options struct {
	// AuthorizerOnly ignores bearer tokens: a request without JWT authorizer
	// claims is anonymous. Set it when the function has no real signing
	// secret, so a token signed with the public development secret can never
	// pass on a route that API Gateway left without an authorizer.
	AuthorizerOnly bool
}

// Handler adapts API Gateway HTTP API events to an http.Handler.
type Handler struct {
	proxy *httpadapter.HandlerAdapterV2
	opts  Options
	log   *slog.Logger
}

// OptionsFor derives the options from the configuration: a function
// without a real signing secret trusts only API Gateway's authorizer.
func OptionsFor(cfg config.Config) Options {
	return Options{AuthorizerOnly: cfg.JWTSecret == config.DevJWTSecret}
}

// New returns a handler that serves h, behind the CORS middleware.
func New(h http.Handler, log *slog.Logger, opts Options) *Handler {
	inner := CORS(h)
	return &Handler{
		proxy: httpadapter.NewV2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			restoreHeaders(r)
			fw := &flushWriter{ResponseWriter: w}
			inner.ServeHTTP(fw, r)
			fw.finish()
		})),
		opts: opts,
		log:  log,
	}
}

// Invoke serves one event; pass it to lambda.Start. It answers every event
// with a response, errors included, so API Gateway never turns a failure
// into its own opaque 500.
func (h *Handler) Invoke(
	ctx context.Context,
	ev events.APIGatewayV2HTTPRequest,
) (events.APIGatewayV2HTTPResponse, error) {
	// The proxy library's base64 handling has had bugs; decode once here,
	// so a bad body is the caller's 400, not a gateway error.
	if ev.IsBase64Encoded {
		body, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return errorResponse(http.StatusBadRequest, "invalid_argument",
				"request body is not valid base64"), nil
		}
		ev.Body, ev.IsBase64Encoded = string(body), false
	}
	stage := ev.RequestContext.Stage
	ev.RawPath = stripStage(ev.RawPath, stage)
	ev.RequestContext.HTTP.Path = stripStage(ev.RequestContext.HTTP.Path, stage)

	// Copy before adding the request id: the caller's map stays untouched.
	ev.Headers = maps.Clone(ev.Headers)
	if ev.Headers == nil {
		ev.Headers = map[string]string{}
	}
	if headerValue(ev.Headers, "X-Request-Id") == "" && ev.RequestContext.RequestID != "" {
		ev.Headers["x-request-id"] = ev.RequestContext.RequestID
	}

	if claims := jwtClaims(ev); claims != nil {
		ctx = auth.WithClaims(ctx, claims)
	} else if h.opts.AuthorizerOnly {
		// Empty claims have no subject, so the caller stays anonymous.
		ctx = auth.WithClaims(ctx, map[string]any{})
	}
	ctx = context.WithValue(ctx, headersKey{}, ev.Headers)

	res, err := h.proxy.ProxyWithContext(ctx, ev)
	if err != nil {
		h.log.ErrorContext(ctx, "api gateway event not served",
			"request_id", ev.RequestContext.RequestID, "err", err.Error())
		return errorResponse(http.StatusInternalServerError, "internal", "internal error"), nil
	}
	return res, nil
}

// jwtClaims returns the claims of API Gateway's JWT authorizer, or nil when
// the route has none. API Gateway renders every claim as a string (a list
// becomes "[a b]"), which auth.FromClaims understands.
func jwtClaims(ev events.APIGatewayV2HTTPRequest) map[string]any {
	a := ev.RequestContext.Authorizer
	if a == nil || a.JWT == nil || len(a.JWT.Claims) == 0 {
		return nil
	}
	claims := make(map[string]any, len(a.JWT.Claims))
	for k, v := range a.JWT.Claims {
		claims[k] = v
	}
	return claims
}

// stripStage removes a named stage from the front of a path. On the
// $default stage (which the CDK app pins) paths carry no stage.
func stripStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	prefix := "/" + stage
	if path == prefix {
		return "/"
	}
	if rest, ok := strings.CutPrefix(path, prefix+"/"); ok {
		return "/" + rest
	}
	return path
}

type headersKey struct{}

// restoreHeaders undoes the proxy library's split of header values at
// commas: "Idempotency-Key: a,b" must reach the handler as one value "a,b",
// not as "a" and "b". API Gateway already joined repeated headers into one
// comma-separated value, which is equivalent for list-valued headers.
func restoreHeaders(r *http.Request) {
	headers, _ := r.Context().Value(headersKey{}).(map[string]string)
	for k, v := range headers {
		r.Header[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
	}
}

// headerValue finds a header in API Gateway's map, whatever its case.
func headerValue(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// flushWriter makes the proxy's writer an http.Flusher, which vanguard's
// REST path needs. Flush does nothing: Lambda returns the whole response at
// once. It also tracks whether the handler answered at all.
type flushWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *flushWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *flushWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Flush is a no-op; see flushWriter.
func (w *flushWriter) Flush() {}

// finish gives a handler that wrote nothing net/http's empty 200, where the
// proxy would fail with "status code not set".
func (w *flushWriter) finish() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
}

// errorResponse is a Connect JSON error body, the shape every route of this
// service answers errors with.
func errorResponse(status int, code, message string) events.APIGatewayV2HTTPResponse {
	body, _ := json.Marshal(map[string]string{"code": code, "message": message})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}
