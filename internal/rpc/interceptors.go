package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
	"github.com/flashsale/flashsale/internal/auth"
	"github.com/flashsale/flashsale/internal/fieldpath"
	"github.com/flashsale/flashsale/internal/flashsale"
)

// access says who may call a procedure.
type access int

const (
	public access = iota
	shopper
	admin
)

// accessOf is deny-by-default: every admin procedure needs the admin role,
// every other shopper procedure a signed-in user, and only the listed ones
// are public.
func accessOf(procedure string) access {
	switch {
	case strings.HasPrefix(procedure, "/"+flashsalev1connect.AdminServiceName+"/"):
		return admin
	case procedure == flashsalev1connect.ShopperServiceListActiveSalesProcedure,
		procedure == flashsalev1connect.ShopperServiceGetSaleProductsProcedure,
		strings.HasPrefix(procedure, "/"+flashsalev1connect.PaymentSimulatorServiceName+"/"):
		return public
	}
	return shopper
}

// interceptor authenticates, validates, and maps errors for every unary
// call, in that order: an anonymous caller learns nothing about validation.
type interceptor struct {
	auth      *auth.Authenticator
	validator protovalidate.Validator
	log       *slog.Logger
}

func (i *interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		procedure := req.Spec().Procedure
		ctx, err := i.authenticate(ctx, procedure, req)
		if err == nil {
			err = i.validate(req.Any())
		}
		if err != nil {
			return nil, toConnect(ctx, i.log, procedure, err)
		}
		res, err := next(ctx, req)
		if err != nil {
			return nil, toConnect(ctx, i.log, procedure, err)
		}
		return res, nil
	}
}

func (i *interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func (i *interceptor) authenticate(
	ctx context.Context,
	procedure string,
	req connect.AnyRequest,
) (context.Context, error) {
	need := accessOf(procedure)
	if need == public {
		return ctx, nil
	}
	id, err := i.auth.Identify(ctx, req.Header())
	if err != nil {
		msg := "a valid bearer token is required"
		if errors.Is(err, auth.ErrNoToken) {
			msg = "missing bearer token"
		}
		return ctx, flashsale.Errorf(flashsale.KindUnauthenticated,
			flashsale.ReasonUnauthenticated, "%s", msg)
	}
	if need == admin && !id.Admin {
		return ctx, flashsale.Errorf(flashsale.KindForbidden, flashsale.ReasonNotAdmin,
			"the admin role is required")
	}
	return auth.NewContext(ctx, id), nil
}

// validate runs the protovalidate rules of the request and names each bad
// field by its JSON name, the spelling REST and Connect JSON clients send.
func (i *interceptor) validate(msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	err := i.validator.Validate(m)
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	bad := &errdetails.BadRequest{}
	var lines []string
	for _, v := range verr.Violations {
		field := fieldpath.Of(v.Proto)
		lines = append(lines, fmt.Sprintf("%s: %s", field, v.Proto.GetMessage()))
		bad.FieldViolations = append(bad.FieldViolations,
			&errdetails.BadRequest_FieldViolation{Field: field, Description: v.Proto.GetMessage()})
	}
	ce := connect.NewError(connect.CodeInvalidArgument, errors.New(strings.Join(lines, "; ")))
	addDetail(ce, &errdetails.ErrorInfo{Reason: string(flashsale.ReasonInvalidArgument),
		Domain: errorDomain, Metadata: map[string]string{"field": bad.FieldViolations[0].Field}})
	addDetail(ce, bad)
	return ce
}
