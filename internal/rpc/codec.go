package rpc

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxBodyBytes bounds every request body, both as sent and once inflated:
// the largest legitimate request (500 products) is far smaller.
const maxBodyBytes = 1 << 20

// The JSON options of the API contract. Responses show every field, so a
// sold-out product says availableQty: 0 and an empty list says []. Requests
// with a field the message does not have are refused rather than read as
// the default: a misspelt perUserLimit must not silently become 2.
var (
	marshalJSON   = protojson.MarshalOptions{EmitUnpopulated: true}
	unmarshalJSON = protojson.UnmarshalOptions{DiscardUnknown: false}
)

// connectJSON is the JSON codec of the Connect handlers. Connect looks a
// codec up by the exact content subtype, so it is registered once as "json"
// and once as "json; charset=utf-8", as Connect's own JSON codec is.
type connectJSON struct{ name string }

func jsonCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(connectJSON{name: "json"}),
		connect.WithCodec(connectJSON{name: "json; charset=utf-8"}),
	}
}

func (c connectJSON) Name() string { return c.name }

func (c connectJSON) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", v)
	}
	return marshalJSON.Marshal(m)
}

// Unmarshal refuses an empty body as Connect's codec does; Connect turns
// the error into invalid_argument.
func (c connectJSON) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal %T: not a protobuf message", v)
	}
	if len(data) == 0 {
		return errors.New("body: empty; send a JSON object")
	}
	return bodyError(unmarshalJSON.Unmarshal(data, m))
}

// restJSON is vanguard's JSON codec for the REST routes. Vanguard decodes
// the body itself on routes with a path variable and answers a plain
// decoding error with code unknown, so a bad body is made an
// invalid_argument here, where it is known to be the caller's fault.
type restJSON struct{ vanguard.JSONCodec }

func newRESTJSON(res vanguard.TypeResolver) vanguard.Codec {
	c := vanguard.NewJSONCodec(res)
	c.MarshalOptions.EmitUnpopulated = true
	c.UnmarshalOptions.DiscardUnknown = false
	return restJSON{JSONCodec: *c}
}

func (c restJSON) Unmarshal(data []byte, msg proto.Message) error {
	return invalidBody(c.JSONCodec.Unmarshal(data, msg))
}

func (c restJSON) UnmarshalField(
	data []byte,
	msg proto.Message,
	field protoreflect.FieldDescriptor,
) error {
	return invalidBody(c.JSONCodec.UnmarshalField(data, msg, field))
}

// bodyError names the body in a protojson error and drops the library's
// "proto:" prefix, which means nothing to an API caller.
func bodyError(err error) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), "proto:"))
	return fmt.Errorf("body: %s", msg)
}

func invalidBody(err error) error {
	if err == nil {
		return nil
	}
	return connect.NewError(connect.CodeInvalidArgument, bodyError(err))
}

// boundedGunzip inflates a gzip body for vanguard and fails past
// maxBodyBytes. Vanguard inflates REST bodies itself, with no limit of its
// own, before the Connect handler's limit can apply.
type boundedGunzip struct {
	gz   gzip.Reader
	left int64
}

func newBoundedGunzip() connect.Decompressor { return &boundedGunzip{} }

func newGzip() connect.Compressor {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level cannot fail
	return w
}

func (b *boundedGunzip) Reset(r io.Reader) error {
	b.left = maxBodyBytes
	if err := b.gz.Reset(r); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("body: gzip: %w", err))
	}
	return nil
}

// Read allows one byte past the limit, to tell a body of exactly the limit
// from a larger one.
func (b *boundedGunzip) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.gz.Read(p)
	b.left -= int64(n)
	switch {
	case b.left < 0:
		return n, errBodyTooLarge()
	case err != nil && !errors.Is(err, io.EOF):
		return n, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("body: gzip: %w", err))
	}
	return n, err
}

func (b *boundedGunzip) Close() error { return b.gz.Close() }

func errBodyTooLarge() error {
	return connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("body: larger than %d bytes", maxBodyBytes))
}

// limitBody caps every request body at maxBodyBytes as sent. It wraps the
// server's own ResponseWriter, so an oversized body also closes the
// connection instead of being drained.
//
// NOTE: on a stream the cap is on the whole body, not each message; the
// only client streams served (gRPC reflection) send a few small requests.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A body announced too large is refused before it is read, with the
		// HTTP status that says so (a 429 would invite a retry). gRPC
		// answers every error with HTTP 200, so it keeps the limit below.
		if r.ContentLength > maxBodyBytes &&
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			writeError(w, http.StatusRequestEntityTooLarge,
				fmt.Errorf("body: larger than %d bytes", maxBodyBytes))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}
