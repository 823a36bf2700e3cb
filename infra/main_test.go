package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The tests share one synthesized app per configuration: a synth costs
// seconds, and every assertion only reads the result. They do not run in
// parallel because every jsii call goes through one Node.js process.

// testRoot holds the placeholder build output and the cloud assemblies.
var testRoot string

func TestMain(m *testing.M) {
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	jsii.Close()
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "flashsale-infra-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	testRoot = dir
	if err := writePlaceholderAssets(filepath.Join(dir, "lambda")); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// writePlaceholderAssets stands in for `make build`: CDK only hashes and
// copies the asset folders, so any file named bootstrap will do.
func writePlaceholderAssets(dir string) error {
	for _, name := range FunctionNames {
		fnDir := filepath.Join(dir, name)
		if err := os.MkdirAll(fnDir, 0o755); err != nil {
			return err
		}
		body := []byte("placeholder for " + name + "\n")
		if err := os.WriteFile(filepath.Join(fnDir, "bootstrap"), body, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// synthesized is one app's stacks with their templates and annotations,
// each read once.
type synthesized struct {
	stacks      *Stacks
	main, edge  assertions.Template
	mainJSON    map[string]interface{}
	edgeJSON    map[string]interface{}
	mainNotes   assertions.Annotations
	edgeNotes   assertions.Annotations
	err         error
	once        sync.Once
	context     map[string]interface{}
	description string
}

// Two configurations cover the profiles and both edge wirings: dev in
// us-east-1 (same-region export) and prod in eu-west-1 (cross-region).
var (
	devApp = &synthesized{description: "dev in us-east-1", context: map[string]interface{}{
		"env": "dev", "region": "us-east-1",
	}}
	prodApp = &synthesized{description: "prod in eu-west-1", context: map[string]interface{}{
		"env": "prod", "region": "eu-west-1",
	}}
)

// get synthesizes the configuration on first use.
func (s *synthesized) get(t *testing.T) *synthesized {
	t.Helper()
	s.once.Do(func() { s.err = s.synth() })
	if s.err != nil {
		t.Fatalf("synth %s: %v", s.description, s.err)
	}
	return s
}

func (s *synthesized) synth() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	app := newTestApp(s.context)
	if s.stacks, err = NewApp(app); err != nil {
		return err
	}
	s.main = assertions.Template_FromStack(s.stacks.Main.Stack, nil)
	s.edge = assertions.Template_FromStack(s.stacks.Edge.Stack, nil)
	s.mainJSON = *s.main.ToJSON()
	s.edgeJSON = *s.edge.ToJSON()
	s.mainNotes = assertions.Annotations_FromStack(s.stacks.Main.Stack)
	s.edgeNotes = assertions.Annotations_FromStack(s.stacks.Edge.Stack)
	return nil
}

// newTestApp is an app whose assets are the placeholders. The zones are
// pinned so that a CDK_DEFAULT_ACCOUNT in the environment cannot turn
// them into a lookup.
func newTestApp(extra map[string]interface{}) awscdk.App {
	ctx := map[string]interface{}{
		"lambdaDir":         filepath.Join(testRoot, "lambda"),
		"availabilityZones": "",
	}
	for k, v := range extra {
		ctx[k] = v
	}
	if ctx["availabilityZones"] == "" {
		region, _ := ctx["region"].(string)
		ctx["availabilityZones"] = region + "a," + region + "b," + region + "c"
	}
	outdir, err := os.MkdirTemp(testRoot, "cdk.out-")
	if err != nil {
		panic(err) // only before any test runs; synth turns it into t.Fatal
	}
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(outdir)})
}

// assert runs a CDK assertion, which panics on failure, and turns the
// panic into a test failure with the assertion's own message.
func assert(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: %v", what, r)
		}
	}()
	assertion()
}

// resources returns the template's resources of one type, by logical ID.
func resources(template map[string]interface{}, kind string) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	all, _ := template["Resources"].(map[string]interface{})
	for id, raw := range all {
		r, _ := raw.(map[string]interface{})
		if r["Type"] == kind {
			out[id] = r
		}
	}
	return out
}

// props returns a resource's Properties.
func props(resource map[string]interface{}) map[string]interface{} {
	p, _ := resource["Properties"].(map[string]interface{})
	return p
}
