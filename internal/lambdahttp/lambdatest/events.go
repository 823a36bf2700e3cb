// Package lambdatest helps test Lambda functions: it reads recorded events
// from testdata and runs a function's bootstrap under the Lambda runtime
// interface emulator (RIE).
package lambdatest

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// ReadFile returns a recorded event with each old string of replace
// (old, new pairs) replaced, so a fixed event can name a sale or carry a
// token that a test creates.
func ReadFile(tb testing.TB, path string, replace ...string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read event: %v", err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(raw)))
}

// APIGatewayEvent reads a recorded API Gateway HTTP API (payload 2.0) event.
// Replacements also apply inside a base64 body; there they must keep the
// length, so that a protobuf body stays well formed.
func APIGatewayEvent(
	tb testing.TB,
	path string,
	replace ...string,
) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(ReadFile(tb, path, replace...), &ev); err != nil {
		tb.Fatalf("decode %s: %v", path, err)
	}
	if !ev.IsBase64Encoded {
		return ev
	}
	body, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		tb.Fatalf("%s: body is not base64: %v", path, err)
	}
	for i := 0; i+1 < len(replace); i += 2 {
		if len(replace[i]) != len(replace[i+1]) && strings.Contains(string(body), replace[i]) {
			tb.Fatalf("%s: replacing %q in a base64 body must keep its length", path, replace[i])
		}
	}
	ev.Body = base64.StdEncoding.EncodeToString(
		[]byte(strings.NewReplacer(replace...).Replace(string(body))))
	return ev
}
