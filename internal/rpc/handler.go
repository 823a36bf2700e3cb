package rpc

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/vanguard"
	"github.com/oklog/ulid/v2"

	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/analytics"
	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/inventory"
	"github.com/flashsale/flashsale/internal/payment"
	"github.com/flashsale/flashsale/internal/sale"
)

// Surface selects which services a handler serves: one Lambda per API
// surface in AWS, all of them in the local server.
type Surface int

// Surfaces.
const (
	ShopperSurface Surface = 1 << iota
	AdminSurface
	PaymentSimulatorSurface
)

// Deps are what the handlers need. Payments may be nil when the payment
// simulator is not served.
type Deps struct {
	Sales     *sale.Service
	Inventory *inventory.Service
	Payments  *payment.Simulator
	Auth      *auth.Authenticator
	Log       *slog.Logger
	// Ready reports whether the dependencies answer; health checks call it.
	Ready func(ctx context.Context) error
	// Reports builds post-sale reports; nil answers GetSaleReport with
	// unavailable.
	Reports *analytics.Reports
}

// compressMinBytes is the smallest response worth compressing.
const compressMinBytes = 1024

// NewHandler serves the chosen surfaces over Connect, gRPC, gRPC-Web and
// the REST routes of the original design (vanguard transcodes them to the
// same handlers), plus gRPC health and reflection.
func NewHandler(d Deps, surfaces Surface) (http.Handler, error) {
	validator, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	opts := connect.WithHandlerOptions(append(jsonCodecs(),
		connect.WithInterceptors(&interceptor{auth: d.Auth, validator: validator, log: d.Log}),
		connect.WithReadMaxBytes(maxBodyBytes),
		// Compressing small answers cost more CPU than the bytes saved
		// (28% of the server's CPU under load, for ~300-byte replies).
		connect.WithCompressMinBytes(compressMinBytes),
		// The fastest gzip level: JSON lists shrink almost as much, for a
		// third of the CPU of the default level.
		connect.WithCompression("gzip", newBoundedGunzip, newGzip))...)
	var services []*vanguard.Service
	var names []string
	add := func(path string, h http.Handler) {
		services = append(services, vanguard.NewService(path, h))
		names = append(names, strings.Trim(path, "/"))
	}
	if surfaces&ShopperSurface != 0 {
		add(flashsalev1connect.NewShopperServiceHandler(
			&shopperServer{sales: d.Sales, inventory: d.Inventory}, opts))
	}
	if surfaces&AdminSurface != 0 {
		admin := &adminServer{sales: d.Sales, now: time.Now}
		if d.Reports != nil { // a nil pointer must not become a non-nil interface
			admin.reports = d.Reports
		}
		add(flashsalev1connect.NewAdminServiceHandler(admin, opts))
	}
	if surfaces&PaymentSimulatorSurface != 0 && d.Payments != nil {
		add(flashsalev1connect.NewPaymentSimulatorServiceHandler(&paymentServer{sim: d.Payments}, opts))
	}
	transcoder, err := vanguard.NewTranscoder(services,
		vanguard.WithCodec(newRESTJSON),
		vanguard.WithCompression("gzip", newGzip, newBoundedGunzip),
		vanguard.WithDefaultServiceOptions(vanguard.WithMaxMessageBufferBytes(maxBodyBytes)))
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/", transcoder)
	limit := connect.WithReadMaxBytes(maxBodyBytes)
	mux.Handle(grpchealth.NewHandler(&checker{services: names, ready: d.Ready}, limit))
	reflector := grpcreflect.NewStaticReflector(names...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, limit))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, limit))
	return limitBody(withRequestID(d.Log,
		rejectGETBody(checkREST(restErrors(mux))))), nil
}

// checker reports SERVING only while the dependencies answer.
type checker struct {
	services []string
	ready    func(ctx context.Context) error
}

func (c *checker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	known := req.Service == ""
	for _, s := range c.services {
		known = known || s == req.Service
	}
	if !known {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	if c.ready != nil {
		if err := c.ready(ctx); err != nil {
			return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
		}
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// rejectGETBody refuses a GET with a body. REST GET routes take their
// parameters from the path and query; a body would be silently ignored.
func rejectGETBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.ContentLength > 0 || len(r.TransferEncoding) > 0) {
			writeError(w, http.StatusBadRequest, errBodyOnGET)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// restQueryParams lists the query parameters each REST route takes, by
// method and path. Vanguard would otherwise read any query parameter as a
// request field, over the path and the body: ?saleId=T1 on
// /api/flash-sale/T2/reserve would reserve on T1.
var restQueryParams = map[string][]string{
	"GET /api/admin/flash-sales": {"status"},
}

// checkREST refuses a REST request whose query has a parameter its route
// does not take (or takes once), or whose body is not JSON, and spells a
// JSON content type the one way vanguard accepts. Connect GET requests carry
// their message in the query and are not REST routes: only /api/ is checked.
func checkREST(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		if err := checkQuery(r); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if err := normalizeJSONType(r.Header); err != nil {
			writeError(w, http.StatusUnsupportedMediaType, err)
			return
		}
		if status, err := checkBodySaleID(r); err != nil {
			writeError(w, status, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkBodySaleID refuses a REST body whose saleId differs from the sale in
// the path: the transcoder would let the path win without a word, and the
// caller meant one of the two. The body is read here (a gzip one is
// inflated, both within the size limit) and handed on as it was read; an
// empty or null saleId counts as absent, as protojson has it. A body in an
// encoding the transcoder does not take goes on for it to refuse. It
// returns the HTTP status of its refusal.
func checkBodySaleID(r *http.Request) (int, error) {
	pathID, ok := pathSaleID(r)
	if !ok || r.Body == nil || r.Body == http.NoBody {
		return 0, nil
	}
	encoding := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if encoding != "" && encoding != "identity" && encoding != "gzip" {
		return 0, nil
	}
	body, err := readBody(r.Body, encoding == "gzip")
	if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge,
			fmt.Errorf("body: larger than %d bytes", maxBodyBytes)
	}
	if err != nil {
		return http.StatusBadRequest, fmt.Errorf("body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Del("Content-Encoding")
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	// A key may be spelled with escapes ("s\u0061leId"); only then, or when
	// the word is there, is the body decoded.
	if !bytes.Contains(body, []byte("sale")) && !bytes.Contains(body, []byte(`\u`)) {
		return 0, nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return 0, nil // the transcoder says what is wrong with it
	}
	for _, name := range []string{"saleId", "sale_id"} {
		var id string
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, &id) == nil &&
			id != "" && id != pathID {
			return http.StatusBadRequest, fmt.Errorf(
				"%s: %q differs from the sale in the path, %q; leave it out", name, id, pathID)
		}
	}
	return 0, nil
}

// readBody reads a request body, inflating it when gzipped, and fails with
// an *http.MaxBytesError past maxBodyBytes either way.
func readBody(body io.Reader, gzipped bool) ([]byte, error) {
	if gzipped {
		z, err := gzip.NewReader(body)
		if err != nil {
			return nil, err
		}
		defer func() { _ = z.Close() }()
		body = z
	}
	b, err := io.ReadAll(io.LimitReader(body, maxBodyBytes+1))
	if err == nil && len(b) > maxBodyBytes {
		err = &http.MaxBytesError{Limit: maxBodyBytes}
	}
	return b, err
}

// pathSaleID returns the sale id of a REST POST route that has one in its
// path: /api/flash-sale/{saleId}/... and /api/admin/flash-sale/{saleId}/...
func pathSaleID(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
	if len(parts) > 0 && parts[0] == "admin" {
		parts = parts[1:]
	}
	if len(parts) != 3 || parts[0] != "flash-sale" || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

func checkQuery(r *http.Request) error {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	allowed := restQueryParams[r.Method+" "+r.URL.Path]
	for _, name := range slices.Sorted(maps.Keys(query)) {
		switch {
		case !slices.Contains(allowed, name):
			return fmt.Errorf("%s: unknown query parameter for %s %s", name, r.Method, r.URL.Path)
		case len(query[name]) > 1:
			return fmt.Errorf("%s: query parameter given %d times; give it once",
				name, len(query[name]))
		}
	}
	return nil
}

// normalizeJSONType accepts any spelling of a JSON content type with at
// most a UTF-8 charset (application/json;charset=UTF-8 is common) and
// rewrites it as application/json, which vanguard compares byte for byte.
func normalizeJSONType(h http.Header) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	ok := err == nil && mediaType == "application/json"
	for name, value := range params {
		ok = ok && name == "charset" && strings.EqualFold(value, "utf-8")
	}
	if !ok {
		return fmt.Errorf("content type %q: send application/json", ct)
	}
	h.Set("Content-Type", "application/json")
	return nil
}

type requestIDKey struct{}

// withRequestID gives every request an id (the caller's X-Request-Id when
// sane), echoes it, and logs one line per request at debug level, or at
// warn when the answer is a server error.
func withRequestID(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = ulid.MustNew(ulid.Now(), rand.Reader).String()
		}
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "request", "request_id", id, "method", r.Method,
			"path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// RequestID returns the id of the request being served.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming responses working through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
