package auth

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestFromClaims(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		claims  map[string]any
		want    Identity
		wantErr bool
	}{
		{"shopper", map[string]any{"sub": "U9001"}, Identity{Subject: "U9001"}, false},
		{"local admin", map[string]any{"sub": "ops", "roles": []any{"admin"}},
			Identity{Subject: "ops", Admin: true}, false},
		{"cognito group as API Gateway renders it", map[string]any{
			"sub": "3f1c-uuid", "cognito:groups": "[ops admin]"},
			Identity{Subject: "3f1c-uuid", Admin: true}, false},
		{"other group", map[string]any{"sub": "u1", "cognito:groups": "[administrators]"},
			Identity{Subject: "u1"}, false},
		{"no subject", map[string]any{"roles": []any{"admin"}}, Identity{}, true},
		{"separator in subject", map[string]any{"sub": "auth0|123"}, Identity{}, true},
	}
	for _, c := range cases {
		got, err := FromClaims(c.claims)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: got %+v %v, want %+v (error %v)", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	h := NewHS256("secret")
	good, _ := h.Mint("U1", false, time.Hour)
	expired, _ := h.Mint("U1", false, -time.Minute)
	other, _ := NewHS256("other").Mint("U1", true, time.Hour)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "U1",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases := []struct {
		name   string
		header string
		want   error
	}{
		{"good", "Bearer " + good, nil},
		{"lower-case scheme", "bearer " + good, nil},
		{"upper-case scheme", "BEARER " + good, nil},
		{"two spaces", "Bearer  " + good, nil},
		{"missing", "", ErrNoToken},
		{"scheme only", "Bearer", ErrNoToken},
		{"scheme and spaces", "bearer   ", ErrNoToken},
		{"not bearer", "Basic abc", ErrNoToken},
		{"bearer as a prefix", "Bearertoken " + good, ErrNoToken},
		{"expired", "Bearer " + expired, ErrBadToken},
		{"wrong secret", "Bearer " + other, ErrBadToken},
		{"alg none", "Bearer " + none, ErrBadToken},
	}
	for _, c := range cases {
		_, err := h.Verify(http.Header{"Authorization": {c.header}})
		if !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestAuthorizerClaimsWin(t *testing.T) {
	t.Parallel()
	a := NewAuthenticator(NewHS256("secret"))
	ctx := WithClaims(context.Background(), map[string]any{"sub": "U7", "cognito:groups": "[admin]"})
	id, err := a.Identify(ctx, http.Header{})
	if err != nil || id != (Identity{Subject: "U7", Admin: true}) {
		t.Fatalf("got %+v %v, want U7 admin from the authorizer claims", id, err)
	}
}

func TestRememberedTokensStillExpire(t *testing.T) {
	t.Parallel()
	h := NewHS256("secret")
	tok, _ := h.Mint("U1", false, 1500*time.Millisecond)
	header := http.Header{"Authorization": {"Bearer " + tok}}
	for range 2 { // the second call is answered from memory
		if id, err := h.Verify(header); err != nil || id.Subject != "U1" {
			t.Fatalf("fresh token: got %+v %v", id, err)
		}
	}
	time.Sleep(2 * time.Second) // exp has second precision
	if _, err := h.Verify(header); !errors.Is(err, ErrBadToken) {
		t.Fatalf("expired remembered token: got %v, want %v", err, ErrBadToken)
	}
}
