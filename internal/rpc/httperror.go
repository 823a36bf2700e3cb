package rpc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

var errBodyOnGET = errors.New("body: a GET request must not have a body; " +
	"pass parameters in the path or query")

// connectError is the Connect protocol's JSON error body.
type connectError struct {
	Code    string          `json:"code"`
	Message string          `json:"message,omitempty"`
	Details []connectDetail `json:"details,omitempty"`
}

type connectDetail struct {
	Type  string          `json:"type"`
	Value string          `json:"value"`
	Debug json.RawMessage `json:"debug,omitempty"`
}

// writeError answers with the Connect JSON error body, the shape Connect
// handlers produce, and an HTTP status whose code codeOfHTTP gives.
func writeError(w http.ResponseWriter, httpStatus int, err error) {
	body, _ := json.Marshal(connectError{Code: codeOfHTTP(httpStatus).String(),
		Message: err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// restErrors makes the REST routes answer errors with the Connect JSON
// body, as the Connect routes do. Vanguard writes REST errors as a
// google.rpc.Status, and a few (unknown route, wrong method) as plain
// text; this rewrites both, keeping the HTTP status.
func restErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		rw := &errorRewriter{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		rw.finish()
	})
}

// errorRewriter passes successful responses through and holds back error
// responses until finish can rewrite them.
type errorRewriter struct {
	http.ResponseWriter
	status int
	held   bytes.Buffer
}

func (e *errorRewriter) WriteHeader(code int) {
	if e.status != 0 {
		return
	}
	e.status = code
	if code < 400 {
		e.ResponseWriter.WriteHeader(code)
	}
}

func (e *errorRewriter) Write(p []byte) (int, error) {
	if e.status == 0 {
		e.WriteHeader(http.StatusOK)
	}
	if e.status >= 400 {
		return e.held.Write(p)
	}
	return e.ResponseWriter.Write(p)
}

func (e *errorRewriter) Flush() {
	if f, ok := e.ResponseWriter.(http.Flusher); ok && e.status < 400 {
		f.Flush()
	}
}

func (e *errorRewriter) finish() {
	if e.status < 400 {
		return
	}
	body := e.held.Bytes()
	if converted, ok := fromStatusJSON(body); ok {
		body = converted
	} else if !isConnectError(body) {
		body = fromPlainError(e.status, body)
	}
	h := e.ResponseWriter.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	e.ResponseWriter.WriteHeader(e.status)
	_, _ = e.ResponseWriter.Write(body)
}

// fromStatusJSON converts a google.rpc.Status JSON body into a Connect
// error body; ok is false when the body is not a Status.
func fromStatusJSON(body []byte) ([]byte, bool) {
	var st status.Status
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &st); err != nil ||
		st.GetCode() == 0 {
		return nil, false
	}
	out := connectError{Code: connect.Code(st.GetCode()).String(), Message: st.GetMessage()}
	for _, d := range st.GetDetails() {
		debug, _ := protojson.Marshal(d)
		out.Details = append(out.Details, connectDetail{
			Type:  strings.TrimPrefix(d.GetTypeUrl(), "type.googleapis.com/"),
			Value: base64.RawStdEncoding.EncodeToString(d.GetValue()),
			Debug: debugOf(debug),
		})
	}
	converted, err := json.Marshal(out)
	return converted, err == nil
}

// isConnectError reports whether body is already a Connect error body,
// as the middleware before the transcoder writes.
func isConnectError(body []byte) bool {
	var ce connectError
	var code connect.Code
	return json.Unmarshal(body, &ce) == nil && code.UnmarshalText([]byte(ce.Code)) == nil
}

// fromPlainError wraps a non-JSON error answer (vanguard and net/http
// write text for an unknown route, a wrong method or a wrong content type)
// in a Connect error body with the code the HTTP status stands for. The
// text is kept as the message for client errors only: a server error's
// text may say more than a client should learn.
func fromPlainError(httpStatus int, body []byte) []byte {
	msg := strings.TrimSpace(string(body))
	if httpStatus >= 500 || msg == "" || len(msg) > 200 || !utf8.ValidString(msg) {
		msg = strings.ToLower(http.StatusText(httpStatus))
	}
	out, _ := json.Marshal(connectError{Code: codeOfHTTP(httpStatus).String(), Message: msg})
	return out
}

// codeOfHTTP is the Connect code for an HTTP error status. A 415 is
// invalid_argument: the route exists and the caller can fix the request by
// sending JSON, which unimplemented would not tell it.
func codeOfHTTP(httpStatus int) connect.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType,
		http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		return connect.CodeInvalidArgument
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated
	case http.StatusForbidden:
		return connect.CodePermissionDenied
	case http.StatusNotFound:
		return connect.CodeNotFound
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return connect.CodeUnimplemented
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return connect.CodeDeadlineExceeded
	case http.StatusConflict:
		return connect.CodeAborted
	case http.StatusPreconditionFailed:
		return connect.CodeFailedPrecondition
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return connect.CodeUnavailable
	}
	if httpStatus < 500 {
		return connect.CodeInvalidArgument
	}
	return connect.CodeInternal
}

// debugOf drops the @type member that protojson adds to an Any, leaving
// the detail's fields as Connect's debug object.
func debugOf(anyJSON []byte) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(anyJSON, &m) != nil {
		return nil
	}
	delete(m, "@type")
	raw, _ := json.Marshal(m)
	return raw
}
