package main

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestFunctionsAreArm64OnAL2023(t *testing.T) {
	for _, app := range []*synthesized{devApp, prodApp} {
		t.Run(app.description, func(t *testing.T) {
			s := app.get(t)
			for _, name := range FunctionNames {
				assert(t, name, func() {
					s.main.HasResourceProperties(jsii.String("AWS::Lambda::Function"),
						map[string]interface{}{
							"FunctionName":  s.stacks.Config.Prefix() + "-" + name,
							"Runtime":       "provided.al2023",
							"Architectures": []interface{}{"arm64"},
							"Handler":       "bootstrap",
						})
				})
			}
		})
	}
	// In one region CDK adds no helper functions of its own, so there
	// every function in the template must be one of ours.
	s := devApp.get(t)
	assert(t, "every function", func() {
		s.main.AllResourcesProperties(jsii.String("AWS::Lambda::Function"),
			map[string]interface{}{
				"Runtime":       "provided.al2023",
				"Architectures": []interface{}{"arm64"},
			})
	})
}

func TestKinesisMappingsReportFailuresAndPark(t *testing.T) {
	s := devApp.get(t)
	mappings := resources(s.mainJSON, "AWS::Lambda::EventSourceMapping")
	if len(mappings) != 3 {
		t.Fatalf("got %d event source mappings, want 3 (one per consumer)", len(mappings))
	}
	assert(t, "every mapping", func() {
		s.main.AllResourcesProperties(jsii.String("AWS::Lambda::EventSourceMapping"),
			map[string]interface{}{
				"FunctionResponseTypes":      []interface{}{"ReportBatchItemFailures"},
				"BisectBatchOnFunctionError": true,
				"DestinationConfig": map[string]interface{}{
					"OnFailure": map[string]interface{}{"Destination": assertions.Match_AnyValue()},
				},
			})
	})
	for id, m := range mappings {
		p := props(m)
		// -1 would mean retry until the record expires, stalling the shard.
		retries, _ := p["MaximumRetryAttempts"].(float64)
		age, _ := p["MaximumRecordAgeInSeconds"].(float64)
		if retries < 0 || retries > 10 || p["MaximumRetryAttempts"] == nil {
			t.Errorf("%s: got MaximumRetryAttempts %v, want 0..10", id, p["MaximumRetryAttempts"])
		}
		if age <= 0 || p["MaximumRecordAgeInSeconds"] == nil {
			t.Errorf("%s: got MaximumRecordAgeInSeconds %v, want a bound",
				id, p["MaximumRecordAgeInSeconds"])
		}
	}
}

func TestRedisIsEncryptedClusteredAndHighlyAvailable(t *testing.T) {
	s := devApp.get(t)
	assert(t, "replication group", func() {
		s.main.HasResourceProperties(jsii.String("AWS::ElastiCache::ReplicationGroup"),
			map[string]interface{}{
				"TransitEncryptionEnabled": true,
				"TransitEncryptionMode":    "required",
				"AtRestEncryptionEnabled":  true,
				"MultiAZEnabled":           true,
				"AutomaticFailoverEnabled": true,
				"ClusterMode":              "enabled",
				"AuthToken":                assertions.Match_AnyValue(),
			})
	})
	for id, rg := range resources(s.mainJSON, "AWS::ElastiCache::ReplicationGroup") {
		p := props(rg)
		if shards, _ := p["NumNodeGroups"].(float64); shards < 2 {
			t.Errorf("%s: got %v node groups, want at least 2", id, p["NumNodeGroups"])
		}
		if replicas, _ := p["ReplicasPerNodeGroup"].(float64); replicas < 1 {
			t.Errorf("%s: got %v replicas per group, want at least 1",
				id, p["ReplicasPerNodeGroup"])
		}
		// The token must come from Secrets Manager, never sit in the template.
		token, _ := json.Marshal(p["AuthToken"])
		if !strings.Contains(string(token), "resolve:secretsmanager") {
			t.Errorf("%s: got AuthToken %s, want a Secrets Manager reference", id, token)
		}
	}
}

func TestEventsTableHasPointInTimeRecovery(t *testing.T) {
	s := devApp.get(t)
	assert(t, "events table", func() {
		s.main.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"),
			map[string]interface{}{
				"KeySchema": []interface{}{
					map[string]interface{}{"AttributeName": "sale_id", "KeyType": "HASH"},
					map[string]interface{}{"AttributeName": "sk", "KeyType": "RANGE"},
				},
				"BillingMode": "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]interface{}{
					"PointInTimeRecoveryEnabled": true,
				},
			})
	})
}

func TestStageIsDefaultAndThrottled(t *testing.T) {
	s := devApp.get(t)
	stages := resources(s.mainJSON, "AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("got %d stages, want 1", len(stages))
	}
	for id, stage := range stages {
		p := props(stage)
		if p["StageName"] != "$default" || p["AutoDeploy"] != true {
			t.Errorf("%s: got stage %v auto-deploy %v, want $default auto-deployed",
				id, p["StageName"], p["AutoDeploy"])
		}
		settings, _ := p["DefaultRouteSettings"].(map[string]interface{})
		rate, _ := settings["ThrottlingRateLimit"].(float64)
		burst, _ := settings["ThrottlingBurstLimit"].(float64)
		if rate <= 0 || burst <= 0 {
			t.Errorf("%s: got rate %v burst %v, want both set", id, rate, burst)
		}
		if p["AccessLogSettings"] == nil {
			t.Errorf("%s: got no access log settings, want them", id)
		}
	}
}

func TestRoutesAndAuthorization(t *testing.T) {
	s := devApp.get(t)
	public := map[string]bool{
		"GET /api/flash-sale/active":                 true,
		"GET /api/flash-sale/{saleId}/products":      true,
		"POST /grpc.health.v1.Health/{proxy+}":       true,
		"POST /flashsale.v1.ShopperService/{proxy+}": false,
		"POST /flashsale.v1.AdminService/{proxy+}":   false,
		"POST /api/flash-sale/{saleId}/reserve":      false,
		"POST /api/flash-sale/{saleId}/confirm":      false,
		"POST /api/flash-sale/{saleId}/release":      false,
		"ANY /api/admin/{proxy+}":                    false,
	}
	got := map[string]string{}
	for _, r := range resources(s.mainJSON, "AWS::ApiGatewayV2::Route") {
		p := props(r)
		key, _ := p["RouteKey"].(string)
		auth, _ := p["AuthorizationType"].(string)
		got[key] = auth
	}
	if len(got) != len(public) {
		t.Errorf("got routes %v, want %d routes", keys(got), len(public))
	}
	for key, isPublic := range public {
		want := "JWT"
		if isPublic {
			want = "NONE"
		}
		if got[key] != want {
			t.Errorf("%s: got authorization %q, want %q", key, got[key], want)
		}
	}
}

func TestCORSAllowsConnectClients(t *testing.T) {
	s := devApp.get(t)
	assert(t, "CORS", func() {
		s.main.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"),
			map[string]interface{}{
				"CorsConfiguration": map[string]interface{}{
					"AllowHeaders":  toAny(corsAllowHeaders),
					"ExposeHeaders": toAny(corsExposeHeaders),
					"AllowMethods":  []interface{}{"GET", "POST", "OPTIONS"},
				},
			})
	})
}

// TestFunctionEnvironmentContract checks the variables the functions read
// and that no credential or local-only setting leaks into AWS.
func TestFunctionEnvironmentContract(t *testing.T) {
	s := devApp.get(t)
	want := map[string][]string{
		FnShopperAPI: {"REDIS_URL", "REDIS_CLUSTER", "REDIS_AUTH_SECRET_ARN", "DB_SECRET_ARN",
			"DB_PROXY_ENDPOINT", "RESERVATION_TTL", "LOG_LEVEL"},
		FnAdminAPI: {"REDIS_URL", "DB_SECRET_ARN", "ANALYTICS_DB_SECRET_ARN",
			"ANALYTICS_DB_ENDPOINT"},
		FnEventLog:      {"EVENTS_TABLE", "EVENTS_STREAM"},
		FnMetricsLoader: {"ANALYTICS_DB_SECRET_ARN", "ANALYTICS_DB_ENDPOINT"},
		FnNotifier:      {"NOTIFY_TOPIC_ARN"},
		FnSweeper:       {"REDIS_URL", "DB_SECRET_ARN"},
		FnRelay:         {"REDIS_URL", "DB_SECRET_ARN", "EVENTS_STREAM"},
	}
	forbidden := []string{
		"AWS_ENDPOINT_URL", "DATABASE_URL", "ANALYTICS_DATABASE_URL", "AUTH_JWT_SECRET",
	}
	for _, fn := range resources(s.mainJSON, "AWS::Lambda::Function") {
		p := props(fn)
		name, _ := p["FunctionName"].(string)
		short := strings.TrimPrefix(name, s.stacks.Config.Prefix()+"-")
		env := environment(p)
		for _, key := range want[short] {
			if _, ok := env[key]; !ok {
				t.Errorf("%s: got no %s, want it set", short, key)
			}
		}
		for _, key := range forbidden {
			if _, ok := env[key]; ok {
				t.Errorf("%s: got %s set, want it absent in AWS", short, key)
			}
		}
	}
}

func environment(p map[string]interface{}) map[string]interface{} {
	env, _ := p["Environment"].(map[string]interface{})
	vars, _ := env["Variables"].(map[string]interface{})
	return vars
}

// dataServices are the IAM prefixes of services that hold the sale's data.
var dataServices = []string{
	"dynamodb", "kinesis", "secretsmanager", "sqs", "sns", "kms", "rds", "rds-db",
	"redshift", "redshift-serverless", "redshift-data", "elasticache", "s3",
}

// TestNoWildcardIAMActions walks every IAM policy document, standalone or
// inline in a role, of both stacks. Allow statements may not use "*" or
// "service:*", and may not wildcard any action of a data service.
func TestNoWildcardIAMActions(t *testing.T) {
	for _, app := range []*synthesized{devApp, prodApp} {
		t.Run(app.description, func(t *testing.T) {
			s := app.get(t)
			for _, template := range []map[string]interface{}{s.mainJSON, s.edgeJSON} {
				for where, stmt := range policyStatements(template) {
					for _, action := range wildcardActions(stmt) {
						t.Errorf("%s: got action %q, want no wildcard", where, action)
					}
				}
			}
		})
	}
}

// policyStatements returns every statement of the template's IAM policies
// and role inline policies, keyed by where it was found.
func policyStatements(template map[string]interface{}) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	add := func(where string, doc interface{}) {
		d, _ := doc.(map[string]interface{})
		list, _ := d["Statement"].([]interface{})
		for i, raw := range list {
			if stmt, ok := raw.(map[string]interface{}); ok {
				out[where+"#"+strconv.Itoa(i)] = stmt
			}
		}
	}
	for id, r := range resources(template, "AWS::IAM::Policy") {
		add(id, props(r)["PolicyDocument"])
	}
	for id, r := range resources(template, "AWS::IAM::Role") {
		inline, _ := props(r)["Policies"].([]interface{})
		for _, raw := range inline {
			p, _ := raw.(map[string]interface{})
			add(id, p["PolicyDocument"])
		}
	}
	return out
}

func wildcardActions(stmt map[string]interface{}) []string {
	if stmt["Effect"] != "Allow" {
		return nil
	}
	var bad []string
	for _, action := range stringList(stmt["Action"]) {
		service, name, _ := strings.Cut(action, ":")
		switch {
		case action == "*" || name == "*":
			bad = append(bad, action)
		case strings.Contains(name, "*") && contains(dataServices, service):
			bad = append(bad, action)
		}
	}
	return bad
}

// TestNagReportsNoErrors runs cdk-nag's AWS Solutions pack (applied by
// NewApp) and fails on any finding that was not suppressed with a reason.
func TestNagReportsNoErrors(t *testing.T) {
	for _, app := range []*synthesized{devApp, prodApp} {
		t.Run(app.description, func(t *testing.T) {
			s := app.get(t)
			for name, notes := range map[string]assertions.Annotations{
				"main": s.mainNotes, "edge": s.edgeNotes,
			} {
				errs := notes.FindError(jsii.String("*"),
					assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
				for _, e := range *errs {
					t.Errorf("%s stack: %s: %v", name, *e.Id, e.Entry.Data)
				}
			}
		})
	}
}

// TestSuppressionsGiveReasons reads the suppressions cdk-nag recorded in
// the templates' metadata: each must name its rule and say why.
func TestSuppressionsGiveReasons(t *testing.T) {
	s := devApp.get(t)
	count := 0
	for _, template := range []map[string]interface{}{s.mainJSON, s.edgeJSON} {
		all, _ := template["Resources"].(map[string]interface{})
		for id, raw := range all {
			for _, sup := range suppressions(raw) {
				count++
				rule, _ := sup["id"].(string)
				reason, _ := sup["reason"].(string)
				if !strings.HasPrefix(rule, "AwsSolutions-") || len(reason) < 40 {
					t.Errorf("%s: got suppression %q with reason %q, want a rule and a "+
						"specific reason", id, rule, reason)
				}
			}
		}
	}
	if count == 0 {
		t.Fatalf("got no suppressions, want the documented ones")
	}
}

func suppressions(resource interface{}) []map[string]interface{} {
	r, _ := resource.(map[string]interface{})
	meta, _ := r["Metadata"].(map[string]interface{})
	nag, _ := meta["cdk_nag"].(map[string]interface{})
	list, _ := nag["rules_to_suppress"].([]interface{})
	var out []map[string]interface{}
	for _, raw := range list {
		if sup, ok := raw.(map[string]interface{}); ok {
			out = append(out, sup)
		}
	}
	return out
}

func TestEdgeHasWAFRateRuleOnCloudFront(t *testing.T) {
	s := devApp.get(t)
	assert(t, "web ACL", func() {
		s.edge.HasResourceProperties(jsii.String("AWS::WAFv2::WebACL"),
			map[string]interface{}{
				"Scope": "CLOUDFRONT",
				"Rules": assertions.Match_ArrayWith(&[]interface{}{
					assertions.Match_ObjectLike(&map[string]interface{}{
						"Statement": map[string]interface{}{
							"RateBasedStatement": map[string]interface{}{
								"AggregateKeyType": "IP",
								"Limit":            assertions.Match_AnyValue(),
							},
						},
					}),
				}),
			})
	})
	assert(t, "distribution", func() {
		s.edge.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"),
			map[string]interface{}{
				"DistributionConfig": assertions.Match_ObjectLike(&map[string]interface{}{
					"WebACLId": assertions.Match_AnyValue(),
				}),
			})
	})
	if region := *s.stacks.Edge.Region(); region != edgeRegion {
		t.Errorf("got edge stack in %s, want %s", region, edgeRegion)
	}
}

// TestProdKeepsData checks the prod profile: data survives a stack delete
// and deletion protection is on.
func TestProdKeepsData(t *testing.T) {
	s := prodApp.get(t)
	assert(t, "aurora", func() {
		s.main.HasResource(jsii.String("AWS::RDS::DBCluster"), map[string]interface{}{
			"DeletionPolicy": "Snapshot",
			"Properties": assertions.Match_ObjectLike(&map[string]interface{}{
				"DeletionProtection": true,
			}),
		})
	})
	assert(t, "events table", func() {
		s.main.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]interface{}{
			"DeletionPolicy": "Retain",
			"Properties": assertions.Match_ObjectLike(&map[string]interface{}{
				"DeletionProtectionEnabled": true,
			}),
		})
	})
	if got := *s.stacks.Main.Region(); got != "eu-west-1" {
		t.Errorf("got main stack in %s, want eu-west-1", got)
	}
}

func TestMissingBuildOutputIsReported(t *testing.T) {
	app := newTestApp(map[string]interface{}{"lambdaDir": t.TempDir(), "region": "us-east-1"})
	_, err := NewApp(app)
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("got error %v, want one that says to run make build", err)
	}
}

func TestUnknownEnvIsRejected(t *testing.T) {
	app := newTestApp(map[string]interface{}{"env": "staging", "region": "us-east-1"})
	if _, err := NewApp(app); err == nil {
		t.Fatalf("got no error for env=staging, want one")
	}
}

func TestRedisNodeIDs(t *testing.T) {
	cfg := Config{Env: "dev", Profile: Profile{RedisShards: 2, RedisReplicas: 1}}
	got := strings.Join(RedisNodeIDs(cfg), " ")
	want := "flashsale-dev-0001-001 flashsale-dev-0001-002 " +
		"flashsale-dev-0002-001 flashsale-dev-0002-002"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func stringList(v interface{}) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []interface{}:
		var out []string
		for _, item := range x {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func toAny(in []string) []interface{} {
	out := make([]interface{}, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
