package adminclient

import (
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server string
		want   bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.8.0.1", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"https://admin.example.com", false},
		{"http://10.0.0.1:8080", false},
		{"http://127.0.0.1.example.com", false},
	}
	for _, tt := range tests {
		u, err := ParseServer(tt.server)
		if err != nil {
			t.Fatalf("ParseServer(%q): %v", tt.server, err)
		}
		if got := IsLoopback(u); got != tt.want {
			t.Errorf("IsLoopback(%q): got %v, want %v", tt.server, got, tt.want)
		}
	}
}

func TestParseServerRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"127.0.0.1:8080", "ftp://host", "http://", "http://h/?a=b", ""} {
		if _, err := ParseServer(s); err == nil {
			t.Errorf("ParseServer(%q): got no error, want one", s)
		}
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	ce := connect.NewError(connect.CodeResourceExhausted, errors.New("slow down"))
	for _, d := range []proto.Message{
		&errdetails.ErrorInfo{Reason: "RATE_LIMITED",
			Metadata: map[string]string{"field": "quantity"}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "quantity", Description: "too many"}}},
	} {
		detail, err := connect.NewErrorDetail(d)
		if err != nil {
			t.Fatal(err)
		}
		ce.AddDetail(detail)
	}
	ce.Meta().Set("X-Request-Id", "R1")

	got, ok := Explain(ce)
	if !ok {
		t.Fatal("Explain: got ok false, want true")
	}
	if got.Code != connect.CodeResourceExhausted || got.Message != "slow down" ||
		got.Reason != "RATE_LIMITED" || got.Field != "quantity" ||
		got.RetryAfter != 1500*time.Millisecond || got.RequestID != "R1" || !got.Answered ||
		len(got.Violations) != 1 || got.Violations[0].String() != "quantity: too many" {
		t.Errorf("Explain: got %+v", got)
	}
	if _, ok := Explain(errors.New("plain")); ok {
		t.Error("Explain(plain error): got ok true, want false")
	}
}
