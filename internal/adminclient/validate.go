package adminclient

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	"github.com/flashsale/flashsale/internal/fieldpath"
)

// Problem is one thing wrong with an input, at a field named the way the
// JSON spells it, e.g. products[1].totalQty. Field is empty when the
// problem is with the input as a whole.
type Problem struct {
	Field   string
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// InputError reports input that was refused before anything was sent:
// a file that cannot be read or parsed, or a request that breaks the API's
// rules. Source is the file path, or "arguments" for command-line values.
type InputError struct {
	Source   string
	Problems []Problem
}

func (e *InputError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.Source + ": " + p.String()
	}
	return strings.Join(lines, "\n")
}

func inputError(source string, problems ...Problem) *InputError {
	return &InputError{Source: source, Problems: problems}
}

// validator is built once: compiling the rules of a message costs more
// than checking it.
var validator = sync.OnceValues(func() (protovalidate.Validator, error) {
	return protovalidate.New()
})

// Check applies the protovalidate rules of msg, the same rules the server
// applies, and returns one problem per violation.
func Check(msg proto.Message) ([]Problem, error) {
	v, err := validator()
	if err != nil {
		return nil, fmt.Errorf("load validation rules: %w", err)
	}
	err = v.Validate(msg)
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return nil, err
	}
	problems := make([]Problem, len(verr.Violations))
	for i, v := range verr.Violations {
		problems[i] = Problem{Field: fieldpath.Of(v.Proto), Message: v.Proto.GetMessage()}
	}
	return problems, nil
}

// CheckArgs is Check for requests built from command-line values.
func CheckArgs(msg proto.Message) error {
	problems, err := Check(msg)
	if err != nil || len(problems) == 0 {
		return err
	}
	return inputError("arguments", problems...)
}
