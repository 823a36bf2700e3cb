// Package auth decides who is calling. Locally it verifies HS256 bearer
// tokens; in AWS, API Gateway's JWT authorizer has verified the token already
// and the Lambda adapter puts its claims on the request context. Both paths
// end in the same function, FromClaims, so the rules stay in one place.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AdminRole is the role (or Cognito group) that admin calls need.
const AdminRole = "admin"

// subjectPattern is what a user id may look like: it covers Cognito's UUID
// subjects and the ids of the local tools, and keeps out the separators that
// the Redis scripts use inside their records.
var subjectPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$`)

// Identity is the authenticated caller.
type Identity struct {
	Subject string
	Admin   bool
}

// ErrNoToken and ErrBadToken tell a missing credential from a wrong one.
var (
	ErrNoToken  = errors.New("missing bearer token")
	ErrBadToken = errors.New("invalid bearer token")
)

// FromClaims builds an identity from verified claims: the subject is the
// user, and the admin role comes from "roles" (local tokens) or
// "cognito:groups" (API Gateway with a Cognito authorizer). Claim values may
// be lists or, as API Gateway renders them, strings like "[admin ops]".
func FromClaims(claims map[string]any) (Identity, error) {
	sub, _ := claims["sub"].(string)
	if !subjectPattern.MatchString(sub) {
		return Identity{}, fmt.Errorf("%w: subject missing or not a supported user id", ErrBadToken)
	}
	id := Identity{Subject: sub}
	for _, name := range []string{"roles", "cognito:groups"} {
		if hasRole(claims[name], AdminRole) {
			id.Admin = true
		}
	}
	return id, nil
}

func hasRole(v any, role string) bool {
	switch v := v.(type) {
	case []any:
		for _, r := range v {
			if s, _ := r.(string); s == role {
				return true
			}
		}
	case []string:
		for _, r := range v {
			if r == role {
				return true
			}
		}
	case string:
		for _, r := range strings.FieldsFunc(v, func(c rune) bool {
			return c == '[' || c == ']' || c == ',' || c == ' '
		}) {
			if r == role {
				return true
			}
		}
	}
	return false
}

// HS256 verifies and mints locally signed tokens.
type HS256 struct {
	secret []byte

	// Verifying a signature costs more than the rest of a reserve on the
	// server, and at the spike each shopper sends one token many times, so
	// verified tokens are remembered until they expire.
	mu   sync.RWMutex
	seen map[string]verified
}

type verified struct {
	id  Identity
	exp time.Time
}

// maxSeen bounds the memory of verified tokens; past it, it starts over.
const maxSeen = 100_000

// NewHS256 returns a verifier with a shared secret.
func NewHS256(secret string) *HS256 {
	return &HS256{secret: []byte(secret), seen: map[string]verified{}}
}

// Verify checks the Authorization header and returns the caller.
func (h *HS256) Verify(header http.Header) (Identity, error) {
	raw, ok := bearerToken(header.Get("Authorization"))
	if !ok {
		return Identity{}, ErrNoToken
	}
	h.mu.RLock()
	v, hit := h.seen[raw]
	h.mu.RUnlock()
	if hit && time.Now().Before(v.exp) {
		return v.id, nil
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return h.secret, nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	id, err := FromClaims(claims)
	if err != nil {
		return Identity{}, err
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		h.remember(raw, verified{id: id, exp: exp.Time})
	}
	return id, nil
}

func (h *HS256) remember(raw string, v verified) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) >= maxSeen {
		h.seen = make(map[string]verified, maxSeen)
	}
	h.seen[raw] = v
}

// bearerToken returns the token of a Bearer credential. The scheme is
// case-insensitive and may be followed by more than one space (RFC 7235).
func bearerToken(authorization string) (string, bool) {
	scheme, token, _ := strings.Cut(authorization, " ")
	token = strings.TrimLeft(token, " ")
	return token, strings.EqualFold(scheme, "Bearer") && token != ""
}

// Mint signs a token for a subject, with the admin role when admin is true.
func (h *HS256) Mint(subject string, admin bool, ttl time.Duration) (string, error) {
	claims := jwt.MapClaims{
		"sub": subject,
		"iat": time.Now().Unix(),
		"exp": time.Now().Add(ttl).Unix(),
	}
	if admin {
		claims["roles"] = []string{AdminRole}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(h.secret)
}

type claimsKey struct{}

// WithClaims returns a context carrying claims that an upstream authorizer
// already verified (API Gateway's JWT authorizer in AWS).
func WithClaims(ctx context.Context, claims map[string]any) context.Context {
	return context.WithValue(ctx, claimsKey{}, claims)
}

// Authenticator decides the caller of a request: from authorizer claims on
// the context when present, else from the bearer token.
type Authenticator struct{ local *HS256 }

// NewAuthenticator returns an authenticator that falls back to local tokens.
func NewAuthenticator(local *HS256) *Authenticator { return &Authenticator{local: local} }

// Identify returns the caller of a request.
func (a *Authenticator) Identify(ctx context.Context, header http.Header) (Identity, error) {
	if claims, ok := ctx.Value(claimsKey{}).(map[string]any); ok {
		return FromClaims(claims)
	}
	return a.local.Verify(header)
}

type identityKey struct{}

// NewContext returns a context carrying the caller.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the caller, if one was authenticated.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
