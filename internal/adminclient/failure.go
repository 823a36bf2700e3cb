package adminclient

import (
	"errors"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Failure is a Connect error taken apart for display: the code and message,
// and what the error details add.
type Failure struct {
	Code    connect.Code
	Message string
	// Reason and Field come from ErrorInfo, e.g. SALE_NOT_FOUND and
	// products[0].productId.
	Reason string
	Field  string
	// RetryAfter comes from RetryInfo.
	RetryAfter time.Duration
	// Violations come from BadRequest.
	Violations []Problem
	// RequestID is the id the server logged the call under.
	RequestID string
	// Answered is false when no response came back: the server could not be
	// reached, or the time limit passed first.
	Answered bool
}

// Explain takes a Connect error apart; ok is false for other errors.
func Explain(err error) (f Failure, ok bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return Failure{}, false
	}
	f = Failure{Code: ce.Code(), Message: ce.Message(),
		RequestID: ce.Meta().Get("X-Request-Id"), Answered: len(ce.Meta()) > 0}
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			continue // a detail type this client does not know
		}
		f.add(v)
	}
	return f, true
}

func (f *Failure) add(detail any) {
	switch d := detail.(type) {
	case *errdetails.ErrorInfo:
		f.Reason, f.Field = d.GetReason(), d.GetMetadata()["field"]
	case *errdetails.RetryInfo:
		f.RetryAfter = d.GetRetryDelay().AsDuration()
	case *errdetails.BadRequest:
		for _, v := range d.GetFieldViolations() {
			f.Violations = append(f.Violations,
				Problem{Field: v.GetField(), Message: v.GetDescription()})
		}
	}
}
