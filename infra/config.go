package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// edgeRegion is where CloudFront-scoped WAF web ACLs must live.
const edgeRegion = "us-east-1"

// Config is everything the stacks read from CDK context, resolved once so
// that no construct reads context on its own.
type Config struct {
	// Env is the deployment profile name, "dev" or "prod".
	Env string
	// Account is the target account, empty when synthesizing without
	// credentials (the templates then stay account-agnostic).
	Account string
	// Region is where the main stack lives.
	Region string
	// AvailabilityZones pins the VPC's zones; nil means look them up.
	AvailabilityZones []string
	// LambdaDir holds one folder per function with its bootstrap binary.
	LambdaDir string
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
	// EdgeDomainName and EdgeCertificateARN give CloudFront a custom
	// domain; without them it serves the default *.cloudfront.net name.
	EdgeDomainName     string
	EdgeCertificateARN string
	// Profile holds the sizing and retention that differ per Env.
	Profile Profile
}

// Profile is the per-environment sizing, durability and limits.
type Profile struct {
	// Production keeps data on delete and turns on deletion protection.
	Production bool
	// NATGateways serve the app subnets (payment provider calls).
	NATGateways int
	// LogRetention applies to every log group the stacks create.
	LogRetention awslogs.RetentionDays
	// RedisNodeType, RedisShards and RedisReplicas size the cluster;
	// replicas are per shard.
	RedisNodeType string
	RedisShards   int
	RedisReplicas int
	// AuroraMinACU and AuroraMaxACU bound Serverless v2 scaling;
	// AuroraReaders are failover targets in other zones.
	AuroraMinACU     float64
	AuroraMaxACU     float64
	AuroraReaders    int
	AuroraBackupDays float64
	// AuroraMaxConns is the connection count the alarm compares against.
	AuroraMaxConns float64
	// RedshiftBaseRPU is the warehouse's base capacity.
	RedshiftBaseRPU float64
	// StreamRetentionHours bounds how long a parked batch can be replayed.
	StreamRetentionHours float64
	// ConsumerRetries and MaxRecordAgeHours bound Kinesis retries before a
	// batch is parked in the consumer's DLQ.
	ConsumerRetries   float64
	MaxRecordAgeHours float64
	// APIRateLimit and APIBurstLimit throttle the whole $default stage.
	APIRateLimit  float64
	APIBurstLimit float64
	// WAFRequestsPerMin is the per-IP limit of the edge rate rule.
	WAFRequestsPerMin float64
	// APIMemoryMB sizes shopper-api; 1769 MB buys one full vCPU.
	APIMemoryMB float64
}

// profiles are the two supported environments. Dev is sized to be cheap
// and disposable; prod keeps data on delete and runs more replicas.
var profiles = map[string]Profile{
	"dev": {
		NATGateways:          1,
		LogRetention:         awslogs.RetentionDays_ONE_WEEK,
		RedisNodeType:        "cache.t4g.small",
		RedisShards:          2,
		RedisReplicas:        1,
		AuroraMinACU:         0.5,
		AuroraMaxACU:         4,
		AuroraReaders:        0,
		AuroraBackupDays:     1,
		AuroraMaxConns:       400,
		RedshiftBaseRPU:      8,
		StreamRetentionHours: 24,
		ConsumerRetries:      3,
		MaxRecordAgeHours:    1,
		APIRateLimit:         200,
		APIBurstLimit:        400,
		WAFRequestsPerMin:    300,
		APIMemoryMB:          512,
	},
	"prod": {
		Production:           true,
		NATGateways:          3,
		LogRetention:         awslogs.RetentionDays_THREE_MONTHS,
		RedisNodeType:        "cache.r7g.large",
		RedisShards:          3,
		RedisReplicas:        2,
		AuroraMinACU:         2,
		AuroraMaxACU:         64,
		AuroraReaders:        1,
		AuroraBackupDays:     14,
		AuroraMaxConns:       4000,
		RedshiftBaseRPU:      32,
		StreamRetentionHours: 168,
		ConsumerRetries:      10,
		MaxRecordAgeHours:    24,
		APIRateLimit:         5000,
		APIBurstLimit:        10000,
		WAFRequestsPerMin:    600,
		APIMemoryMB:          1769,
	},
}

// LoadConfig resolves the Config from the app's context and the
// CDK_DEFAULT_* variables that the CDK CLI sets when credentials exist.
func LoadConfig(app awscdk.App) (Config, error) {
	env := contextString(app, "env", "dev")
	profile, ok := profiles[env]
	if !ok {
		return Config{}, fmt.Errorf("context env=%q: want dev or prod", env)
	}
	cfg := Config{
		Env:                env,
		Account:            os.Getenv("CDK_DEFAULT_ACCOUNT"),
		Region:             contextString(app, "region", defaultRegion()),
		AvailabilityZones:  contextList(app, "availabilityZones"),
		LambdaDir:          contextString(app, "lambdaDir", "../build/lambda"),
		CORSOrigins:        contextList(app, "corsOrigins"),
		AlarmEmail:         contextString(app, "alarmEmail", ""),
		EdgeDomainName:     contextString(app, "edgeDomainName", ""),
		EdgeCertificateARN: contextString(app, "edgeCertificateArn", ""),
		Profile:            profile,
	}
	if len(cfg.CORSOrigins) == 0 {
		cfg.CORSOrigins = []string{"*"}
	}
	if (cfg.EdgeDomainName == "") != (cfg.EdgeCertificateARN == "") {
		return Config{}, fmt.Errorf("edgeDomainName and edgeCertificateArn go together")
	}
	cfg.AvailabilityZones = cfg.zones()
	return cfg, nil
}

// zones decides the VPC's availability zones. Redshift Serverless needs
// subnets in three zones, but without an account CDK can only guess two,
// so an account-less synth pins the region's a, b and c zones.
func (c Config) zones() []string {
	if len(c.AvailabilityZones) > 0 || c.Account != "" {
		return c.AvailabilityZones
	}
	return []string{c.Region + "a", c.Region + "b", c.Region + "c"}
}

// Prefix names physical resources so that dev and prod can share an
// account.
func (c Config) Prefix() string {
	return "flashsale-" + c.Env
}

// RemovalPolicy keeps prod data when a resource leaves the stack and lets
// dev stacks delete cleanly.
func (c Config) RemovalPolicy() awscdk.RemovalPolicy {
	if c.Profile.Production {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// SnapshotPolicy is RemovalPolicy for resources that can leave a final
// snapshot behind.
func (c Config) SnapshotPolicy() awscdk.RemovalPolicy {
	if c.Profile.Production {
		return awscdk.RemovalPolicy_SNAPSHOT
	}
	return awscdk.RemovalPolicy_DESTROY
}

func defaultRegion() string {
	if r := os.Getenv("CDK_DEFAULT_REGION"); r != "" {
		return r
	}
	return edgeRegion
}

// contextString reads a string context value; cdk.json and -c both give
// strings, so anything else is treated as absent.
func contextString(app awscdk.App, key, fallback string) string {
	if v, ok := app.Node().TryGetContext(&key).(string); ok && v != "" {
		return v
	}
	return fallback
}

// contextList reads a comma-separated context value.
func contextList(app awscdk.App, key string) []string {
	var out []string
	for _, part := range strings.Split(contextString(app, key, ""), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
