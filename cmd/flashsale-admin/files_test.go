package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flashsale/flashsale/internal/adminclient"
)

// TestBadFiles checks that a bad sale file is refused with a message that
// names the file, the field and the problem, exit code 2, and that nothing
// reaches the server.
func TestBadFiles(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	tests := []struct {
		file string
		want []string
	}{
		{"bad/unknown-field.json", []string{"products[1].quantity: unknown field",
			"known fields are productId, totalQty"}},
		{"bad/unknown-field.yaml", []string{"discount: unknown field"}},
		{"bad/end-before-start.json", []string{"endTime: ", "is not after startTime"}},
		{"bad/end-before-start.yaml", []string{"endTime: ", "is not after startTime"}},
		{"bad/no-products.json", []string{"products: missing"}},
		{"bad/empty-products.yaml", []string{"products: empty"}},
		{"bad/malformed.json", []string{"malformed JSON at line 8"}},
		{"bad/malformed.yaml", []string{"malformed YAML: line 7"}},
		{"bad/rules.json", []string{"discountPercent: must be greater than 0",
			"products[0].totalQty: must be greater than 0",
			"products: productId must be unique"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			id := uniqueID("ADM-BAD")
			now := time.Now()
			path := saleFile(t, tt.file, id, now, now.Add(time.Hour))
			url, requests := countingServer(t, s.handler)

			r := runTool(url, s.token, "create", "-f", path)
			want(t, "create", r, exitUsage,
				append([]string{path + ": ", "nothing was sent"}, tt.want...)...)
			if n := requests.Load(); n != 0 {
				t.Errorf("create: got %d requests at the server, want 0", n)
			}
			want(t, "get", s.admin("get", id), 4, "not_found")
		})
	}
}

// TestUnreadableFiles covers files that cannot be read as a sale at all.
func TestUnreadableFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "absent.json"), "no such file"},
		{"empty", write("empty.yaml", "\n"), "the file is empty"},
		{"extension", write("sale.txt", "{}"), `unknown file type ".txt"`},
		{"list", write("list.json", "[]"), "the top level must be an object"},
		{"trailing", write("two.json", `{"saleId": "A"} {}`), "more after the top-level value"},
		{"duplicate", write("dup.yaml", "saleId: A\nsaleId: B\n"),
			`line 2: duplicate key "saleId"`},
		{"alias", write("alias.yaml", "a: &x 1\nsaleId: *x\n"), "aliases"},
		{"type", write("type.json", `{"discountPercent": "forty"}`), "discountPercent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Nothing is sent, so no server is needed: port 1 is never dialled.
			r := runTool("http://127.0.0.1:1", "unused", "create", "-f", tt.path)
			want(t, "create", r, exitUsage, tt.path+": ", tt.want)
		})
	}
}

// TestProductsBadFile checks products upsert's file the same way.
func TestProductsBadFile(t *testing.T) {
	t.Parallel()
	s := theStack(t)
	path := filepath.Join(t.TempDir(), "products.yaml")
	text := "products:\n  - productId: P101\n    name: Earbuds\n" +
		"    price: 1000\n    currency: USD\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	url, requests := countingServer(t, s.handler)
	want(t, "products upsert", runTool(url, s.token, "products", "upsert", "-f", path),
		exitUsage, "products[0].price: unknown field")
	if n := requests.Load(); n != 0 {
		t.Errorf("products upsert: got %d requests at the server, want 0", n)
	}
}

// TestYAMLTwin checks that each YAML example means exactly what its JSON
// twin means.
func TestYAMLTwin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		read func(path string) (proto.Message, error)
	}{
		{"fs1001", func(p string) (proto.Message, error) { return adminclient.ReadSale(p) }},
		{"products", func(p string) (proto.Message, error) { return adminclient.ReadProducts(p) }},
	}
	for _, tt := range tests {
		fromJSON, err := tt.read(filepath.Join("testdata", tt.name+".json"))
		if err != nil {
			t.Fatalf("%s.json: %v", tt.name, err)
		}
		fromYAML, err := tt.read(filepath.Join("testdata", tt.name+".yaml"))
		if err != nil {
			t.Fatalf("%s.yaml: %v", tt.name, err)
		}
		if !proto.Equal(fromJSON, fromYAML) {
			t.Errorf("%s: got %v from YAML, want %v as from JSON", tt.name, fromYAML, fromJSON)
		}
	}
}
