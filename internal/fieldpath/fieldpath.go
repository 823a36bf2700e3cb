// Package fieldpath names the field of a protovalidate violation the way
// JSON clients spell it, e.g. products[1].productId, so that the server's
// errors and the admin client's local checks name fields identically.
package fieldpath

import (
	"fmt"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
)

// Of renders a violation's field in JSON names with list indexes.
// Message-level rules name no field; by this API's convention their rule id
// starts with the field they are about (end_time.after_start).
func Of(v *validate.Violation) string {
	elems := v.GetField().GetElements()
	if len(elems) == 0 {
		name, _, _ := strings.Cut(v.GetRuleId(), ".")
		return JSONName(name)
	}
	var b strings.Builder
	for n, e := range elems {
		if n > 0 {
			b.WriteByte('.')
		}
		b.WriteString(JSONName(e.GetFieldName()))
		if s, ok := e.GetSubscript().(*validate.FieldPathElement_Index); ok {
			fmt.Fprintf(&b, "[%d]", s.Index)
		}
	}
	return b.String()
}

// JSONName is protobuf's lowerCamelCase JSON spelling of a field name.
func JSONName(protoName string) string {
	parts := strings.Split(protoName, "_")
	for n := 1; n < len(parts); n++ {
		if parts[n] != "" {
			parts[n] = strings.ToUpper(parts[n][:1]) + parts[n][1:]
		}
	}
	return strings.Join(parts, "")
}
