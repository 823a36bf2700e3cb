package adminclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
)

// ReadSale reads a sale to create from a JSON or YAML file in the seed's
// request shape (saleId, startTime, endTime, discountPercent, products with
// productId and totalQty, optional perUserLimit). It refuses unknown
// fields, a missing or empty product list, an end not after the start and
// anything else the server's rules would refuse, naming each field.
func ReadSale(path string) (*flashsalev1.CreateFlashSaleRequest, error) {
	req := &flashsalev1.CreateFlashSaleRequest{}
	top, err := readInto(path, req)
	if err != nil {
		return nil, err
	}
	problems := requireList(top, "products", "a sale needs at least one product")
	problems = append(problems, window(req.GetStartTime(), req.GetEndTime())...)
	return req, check(path, req, problems)
}

// ReadProducts reads catalog products from a JSON or YAML file shaped like
// UpsertProductsRequest: {"products": [{productId, name, basePrice,
// currency}]}, with basePrice in minor units.
func ReadProducts(path string) (*flashsalev1.UpsertProductsRequest, error) {
	req := &flashsalev1.UpsertProductsRequest{}
	top, err := readInto(path, req)
	if err != nil {
		return nil, err
	}
	problems := requireList(top, "products", "list at least one product")
	return req, check(path, req, problems)
}

// readInto parses the file by its extension, rejects fields that msg does
// not have, and unmarshals it with protojson. It returns the parsed top
// level so callers can tell a missing field from an empty one.
func readInto(path string, msg proto.Message) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, inputError(path, Problem{Message: "cannot read the file: " + cause(err)})
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, inputError(path, Problem{Message: "the file is empty"})
	}
	tree, asJSON, err := decode(path, data)
	if err != nil {
		return nil, inputError(path, Problem{Message: err.Error()})
	}
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, inputError(path, Problem{Message: fmt.Sprintf(
			"the top level must be an object of fields, got %s", kindOf(tree))})
	}
	if unknown := unknownFields(msg.ProtoReflect().Descriptor(), top, ""); len(unknown) > 0 {
		return nil, inputError(path, unknown...)
	}
	if err := protojson.Unmarshal(asJSON, msg); err != nil {
		return nil, inputError(path, Problem{Message: protojsonMessage(err, path)})
	}
	return top, nil
}

// decode parses JSON or YAML into plain values, and returns the JSON that
// protojson reads. YAML goes through JSON so that both formats obey exactly
// the same field names and types.
func decode(path string, data []byte) (any, []byte, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		v, err := decodeJSON(data)
		return v, data, err
	case ".yaml", ".yml":
		v, err := decodeYAML(data)
		if err != nil {
			return nil, nil, err
		}
		asJSON, err := json.Marshal(v)
		return v, asJSON, err
	}
	return nil, nil, fmt.Errorf("unknown file type %q; want .json, .yaml or .yml",
		filepath.Ext(path))
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonSyntax(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		at := line(data, dec.InputOffset())
		return nil, fmt.Errorf("malformed JSON at line %d: more after the top-level value", at)
	}
	return v, nil
}

func jsonSyntax(data []byte, err error) error {
	var serr *json.SyntaxError
	switch {
	case errors.As(err, &serr):
		return fmt.Errorf("malformed JSON at line %d: %v", line(data, serr.Offset), serr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: the file ends inside a value")
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

// line is the 1-based line of a byte offset.
func line(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// unknownFields names every key that is not a field of md, accepting the
// JSON name and the proto name as protojson does, and descends into
// message fields so that a typo in products[1] is reported there.
func unknownFields(md protoreflect.MessageDescriptor, obj map[string]any, at string) []Problem {
	var problems []Problem
	for _, key := range sortedKeys(obj) {
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(key))
		}
		path := join(at, key)
		if fd == nil {
			problems = append(problems, Problem{Field: path,
				Message: "unknown field; known fields are " + knownFields(md)})
			continue
		}
		if !nested(fd) {
			continue
		}
		if !fd.IsList() {
			if m, ok := obj[key].(map[string]any); ok {
				problems = append(problems, unknownFields(fd.Message(), m, path)...)
			}
			continue
		}
		list, _ := obj[key].([]any)
		for i, e := range list {
			if m, ok := e.(map[string]any); ok {
				problems = append(problems,
					unknownFields(fd.Message(), m, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return problems
}

// nested reports whether a field holds messages of this API, as opposed to
// scalars, maps or well-known types such as Timestamp, which JSON writes as
// strings.
func nested(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && !fd.IsMap() &&
		fd.Message().FullName().Parent() != "google.protobuf"
}

func knownFields(md protoreflect.MessageDescriptor) string {
	names := make([]string, md.Fields().Len())
	for i := range names {
		names[i] = md.Fields().Get(i).JSONName()
	}
	return strings.Join(names, ", ")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// requireList reports a list field that is absent, null or empty.
func requireList(top map[string]any, key, why string) []Problem {
	v, ok := top[key]
	if !ok || v == nil {
		return []Problem{{Field: key, Message: "missing; " + why}}
	}
	if list, ok := v.([]any); ok && len(list) == 0 {
		return []Problem{{Field: key, Message: "empty; " + why}}
	}
	return nil
}

// window reports an end that is not after the start, with both times, so
// the reader sees which one to fix. Missing times are left to the rules.
func window(start, end *timestamppb.Timestamp) []Problem {
	if start == nil || end == nil || end.AsTime().After(start.AsTime()) {
		return nil
	}
	return []Problem{{Field: "endTime", Message: fmt.Sprintf(
		"%s is not after startTime %s; a sale must end after it starts",
		end.AsTime().Format(time.RFC3339), start.AsTime().Format(time.RFC3339))}}
}

// check adds the protovalidate violations to the problems found so far,
// leaving out fields that already have a clearer message.
func check(path string, msg proto.Message, problems []Problem) error {
	more, err := Check(msg)
	if err != nil {
		return err
	}
	for _, p := range more {
		if !slices.ContainsFunc(problems, func(q Problem) bool { return q.Field == p.Field }) {
			problems = append(problems, p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return inputError(path, problems...)
}

var protojsonPosition = regexp.MustCompile(`\s*\(line \d+:\d+\)`)

// protojsonMessage drops the "proto:" prefix, and for YAML the position,
// which points into the JSON made from it rather than into the file.
func protojsonMessage(err error, path string) string {
	msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), "proto:"))
	if strings.ToLower(filepath.Ext(path)) != ".json" {
		msg = strings.TrimSpace(protojsonPosition.ReplaceAllString(msg, ""))
	}
	return msg
}

func cause(err error) string {
	var perr *fs.PathError
	if errors.As(err, &perr) {
		return perr.Err.Error()
	}
	return err.Error()
}

func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case nil:
		return "null"
	case string:
		return "a string"
	}
	return "a single value"
}
