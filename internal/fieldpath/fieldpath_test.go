package fieldpath

import (
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
)

func TestOf(t *testing.T) {
	t.Parallel()
	nested := &validate.Violation{Field: &validate.FieldPath{Elements: []*validate.FieldPathElement{
		{FieldName: proto.String("products"), Subscript: &validate.FieldPathElement_Index{Index: 1}},
		{FieldName: proto.String("product_id")},
	}}}
	if got := Of(nested); got != "products[1].productId" {
		t.Errorf("nested: got %q, want products[1].productId", got)
	}
	message := &validate.Violation{RuleId: proto.String("end_time.after_start")}
	if got := Of(message); got != "endTime" {
		t.Errorf("message rule: got %q, want endTime", got)
	}
}
