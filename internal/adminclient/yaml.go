package adminclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeYAML parses one YAML document into the plain values that JSON
// has. It is strict where YAML is loose: duplicate keys, aliases, custom
// tags and non-scalar keys are errors, so a file means one thing.
func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("malformed YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed YAML: more than one document; want exactly one")
	}
	return yamlValue(&doc)
}

func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0])
	case yaml.MappingNode:
		return yamlMapping(n)
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := yamlValue(e)
			if err != nil {
				return nil, err
			}
			list[i] = v
		}
		return list, nil
	case yaml.ScalarNode:
		return yamlScalar(n)
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: aliases (*%s) are not supported; "+
			"write the value out", n.Line, n.Value)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func yamlMapping(n *yaml.Node) (any, error) {
	obj := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be a plain name", k.Line)
		}
		if _, dup := obj[k.Value]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
		}
		v, err := yamlValue(n.Content[i+1])
		if err != nil {
			return nil, err
		}
		obj[k.Value] = v
	}
	return obj, nil
}

// yamlScalar keeps timestamps as the text written, which protojson then
// reads as RFC 3339; numbers and booleans become JSON numbers and booleans.
func yamlScalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, nil
	case "!!bool":
		var b bool
		return b, yamlDecode(n, &b)
	case "!!int":
		var i int64
		return i, yamlDecode(n, &i)
	case "!!float":
		var f float64
		if err := yamlDecode(n, &f); err != nil {
			return nil, err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("line %d: %s is not a number JSON can carry", n.Line, n.Value)
		}
		return f, nil
	}
	return nil, fmt.Errorf("line %d: unsupported tag %s", n.Line, n.Tag)
}

func yamlDecode(n *yaml.Node, out any) error {
	if err := n.Decode(out); err != nil {
		return fmt.Errorf("line %d: %q: %s", n.Line, n.Value,
			strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}
