// Package rpc serves the Connect services and, through vanguard, the REST
// routes of the original design from the same handlers. It is the only place
// that turns protobuf into domain types and domain errors into Connect codes.
package rpc

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flashsale/flashsale/internal/flashsale"
)

// errorDomain names this service in ErrorInfo details.
const errorDomain = "flashsale"

var codes = map[flashsale.Kind]connect.Code{
	flashsale.KindInvalid:         connect.CodeInvalidArgument,
	flashsale.KindNotFound:        connect.CodeNotFound,
	flashsale.KindPrecondition:    connect.CodeFailedPrecondition,
	flashsale.KindExhausted:       connect.CodeResourceExhausted,
	flashsale.KindConflict:        connect.CodeAlreadyExists,
	flashsale.KindForbidden:       connect.CodePermissionDenied,
	flashsale.KindUnauthenticated: connect.CodeUnauthenticated,
	flashsale.KindUnavailable:     connect.CodeUnavailable,
}

// toConnect is the one mapping from domain errors to Connect errors. Domain
// errors keep their client-safe message and gain an ErrorInfo with the
// reason (and RetryInfo for rate limits); anything else is logged and
// answered as a generic internal error. Dependency causes go to the log only.
func toConnect(ctx context.Context, log *slog.Logger, procedure string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	var fe *flashsale.Error
	if !errors.As(err, &fe) || codes[fe.Kind] == 0 {
		if errors.Is(err, context.DeadlineExceeded) {
			return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
		}
		if errors.Is(err, context.Canceled) {
			return connect.NewError(connect.CodeCanceled, errors.New("canceled"))
		}
		log.ErrorContext(ctx, "internal error", "procedure", procedure, "err", err.Error())
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	if fe.Kind == flashsale.KindUnavailable {
		log.WarnContext(ctx, "dependency unavailable", "procedure", procedure,
			"err", err.Error())
	}
	out := connect.NewError(codes[fe.Kind], errors.New(fe.Message))
	meta := map[string]string{}
	if fe.Field != "" {
		meta["field"] = fe.Field
	}
	if fe.RetryAfter > 0 {
		meta["retry_after_ms"] = strconv.FormatInt(fe.RetryAfter, 10)
		addDetail(out, &errdetails.RetryInfo{
			RetryDelay: durationpb.New(time.Duration(fe.RetryAfter) * time.Millisecond),
		})
	}
	addDetail(out, &errdetails.ErrorInfo{Reason: string(fe.Reason), Domain: errorDomain,
		Metadata: meta})
	return out
}

func addDetail(err *connect.Error, msg proto.Message) {
	if d, e := connect.NewErrorDetail(msg); e == nil {
		err.AddDetail(d)
	}
}
