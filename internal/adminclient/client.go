// Package adminclient is the client side of the admin API. It reads sale and
// product files into requests and checks them with the server's own rules
// before anything is sent, connects to AdminService with a bearer token, and
// explains Connect errors in terms that people and scripts can act on.
package adminclient

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"connectrpc.com/connect"

	"github.com/flashsale/flashsale/gen/flashsale/v1/flashsalev1connect"
)

// New returns an AdminService client of the server at base (http or https)
// that sends token as a bearer credential on every call.
func New(hc connect.HTTPClient, base, token string) flashsalev1connect.AdminServiceClient {
	return flashsalev1connect.NewAdminServiceClient(hc, base,
		connect.WithInterceptors(bearer(token)))
}

// bearer adds the Authorization header. It is an interceptor rather than a
// per-call header so that no call can forget it.
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

// ParseServer checks a server address: an absolute http or https URL with a
// host and no query.
func ParseServer(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" {
		return nil, fmt.Errorf("server %q: want an http:// or https:// URL "+
			"such as http://127.0.0.1:8080", raw)
	}
	return u, nil
}

// IsLoopback reports whether u names this machine: localhost, 127.0.0.0/8
// or ::1. Only such a server may be given a locally minted dev token.
func IsLoopback(u *url.URL) bool {
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
