package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Function names, fixed by the build: build/lambda/<name>/bootstrap.
const (
	FnShopperAPI    = "shopper-api"
	FnAdminAPI      = "admin-api"
	FnEventLog      = "event-log"
	FnMetricsLoader = "metrics-loader"
	FnNotifier      = "notifier"
	FnSweeper       = "sweeper"
	FnRelay         = "relay"
)

// FunctionNames lists every function the build produces, in stack order.
var FunctionNames = []string{
	FnShopperAPI, FnAdminAPI, FnEventLog, FnMetricsLoader, FnNotifier, FnSweeper, FnRelay,
}

// Compute is the Lambda functions with their triggers.
type Compute struct {
	Functions map[string]awslambda.Function
	// DLQs receive the Kinesis records a consumer gave up on, by function.
	DLQs map[string]awssqs.Queue
}

// functionSpec says how one function runs and what it may touch.
type functionSpec struct {
	name     string
	memoryMB float64
	timeout  float64 // seconds
	subnets  string
	access   []access
	consumer *consumerSpec
	// everyMinute runs the function on an EventBridge schedule.
	everyMinute bool
}

// consumerSpec shapes a function's Kinesis event source mapping.
type consumerSpec struct {
	batchSize float64
	windowSec float64
}

// access gives a function one capability: its environment variables and
// the matching least-privilege grant, set together so they never drift.
type access func(b *computeBuilder, fn awslambda.Function)

// functionSpecs is the function table. Only shopper-api sits in subnets
// with egress: confirming a payment calls the outside provider.
func functionSpecs(cfg Config) []functionSpec {
	return []functionSpec{
		{name: FnShopperAPI, memoryMB: cfg.Profile.APIMemoryMB, timeout: 10,
			subnets: subnetApp, access: []access{redisAccess, databaseAccess}},
		// API Gateway gives up after 30 s, so admin calls stop just before.
		{name: FnAdminAPI, memoryMB: 512, timeout: 29, subnets: subnetData,
			access: []access{redisAccess, databaseAccess, analyticsAccess}},
		{name: FnEventLog, memoryMB: 256, timeout: 60, subnets: subnetData,
			access: []access{eventsTableAccess}, consumer: &consumerSpec{batchSize: 100}},
		// Bigger, slower batches: the warehouse prefers few large writes.
		{name: FnMetricsLoader, memoryMB: 512, timeout: 120, subnets: subnetData,
			access:   []access{analyticsAccess},
			consumer: &consumerSpec{batchSize: 500, windowSec: 5}},
		{name: FnNotifier, memoryMB: 256, timeout: 60, subnets: subnetData,
			access: []access{notifyAccess}, consumer: &consumerSpec{batchSize: 50}},
		{name: FnSweeper, memoryMB: 256, timeout: 60, subnets: subnetData,
			access: []access{redisAccess, databaseAccess}, everyMinute: true},
		// The relay loops for about 55 s inside each invocation, so one
		// tick a minute keeps the stream fed; the timeout leaves headroom.
		{name: FnRelay, memoryMB: 512, timeout: 90, subnets: subnetData,
			access:      []access{redisAccess, databaseAccess, streamWriteAccess},
			everyMinute: true},
	}
}

type computeBuilder struct {
	scope constructs.Construct
	cfg   Config
	net   *Network
	data  *Data
	out   *Compute
}

// NewCompute builds every function, its grants and its trigger. The HTTP
// functions get their trigger from the API.
func NewCompute(scope constructs.Construct, cfg Config, net *Network, data *Data) *Compute {
	b := &computeBuilder{scope: scope, cfg: cfg, net: net, data: data, out: &Compute{
		Functions: map[string]awslambda.Function{},
		DLQs:      map[string]awssqs.Queue{},
	}}
	for _, spec := range functionSpecs(cfg) {
		b.add(spec)
	}
	return b.out
}

func (b *computeBuilder) add(spec functionSpec) {
	fn := b.function(spec)
	for _, grant := range spec.access {
		grant(b, fn)
	}
	if spec.consumer != nil {
		b.consume(spec, fn)
	}
	if spec.everyMinute {
		b.schedule(spec, fn)
	}
	suppressWildcards(fn)
	b.out.Functions[spec.name] = fn
}

func (b *computeBuilder) function(spec functionSpec) awslambda.Function {
	id := constructID(spec.name)
	name := b.cfg.Prefix() + "-" + spec.name
	logs := newNamedLogGroup(b.scope, id, "/aws/lambda/"+name, b.cfg)
	props := &awslambda.FunctionProps{
		FunctionName:   jsii.String(name),
		Runtime:        awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:   awslambda.Architecture_ARM_64(),
		Handler:        jsii.String("bootstrap"),
		Code:           awslambda.Code_FromAsset(jsii.String(assetDir(b.cfg, spec.name)), nil),
		MemorySize:     jsii.Number(spec.memoryMB),
		Timeout:        awscdk.Duration_Seconds(jsii.Number(spec.timeout)),
		Role:           b.role(id, logs),
		LogGroup:       logs,
		Tracing:        awslambda.Tracing_ACTIVE,
		Vpc:            b.net.VPC,
		VpcSubnets:     b.net.Subnets(spec.subnets),
		SecurityGroups: &[]awsec2.ISecurityGroup{b.net.Functions},
		Environment:    baseEnvironment(b.cfg),
	}
	if spec.everyMinute {
		scheduledProps(b.cfg, props)
	}
	return awslambda.NewFunction(b.scope, jsii.String(id), props)
}

// scheduledProps drops a missed tick instead of retrying it: the next
// tick a minute later does the same work. Prod runs one copy at a time
// so two relays never race; dev skips the reservation because new
// accounts cannot reserve concurrency below their unreserved minimum.
func scheduledProps(cfg Config, props *awslambda.FunctionProps) {
	props.RetryAttempts = jsii.Number(0)
	props.MaxEventAge = awscdk.Duration_Minutes(jsii.Number(1))
	if cfg.Profile.Production {
		props.ReservedConcurrentExecutions = jsii.Number(1)
	}
}

func baseEnvironment(cfg Config) *map[string]*string {
	level := "info"
	if !cfg.Profile.Production {
		level = "debug"
	}
	return &map[string]*string{
		"LOG_LEVEL":       jsii.String(level),
		"RESERVATION_TTL": jsii.String("5m"),
	}
}

// role is the function's execution role. It is written out instead of
// using the AWS managed basic and VPC policies so that logging is scoped
// to the function's own log group. The statements are inline in the role
// because Lambda checks the network interface permissions when it creates
// a VPC function, before a separate policy resource might exist.
func (b *computeBuilder) role(id string, logs awslogs.LogGroup) awsiam.Role {
	role := awsiam.NewRole(b.scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("execution role of " + id),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"runtime": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{
					statement([]string{"logs:CreateLogStream", "logs:PutLogEvents"},
						logs.LogGroupArn()),
					statement(vpcNetworkActions, jsii.String("*")),
				},
			}),
		},
	})
	return role
}

// suppressWildcards explains the role's Resource::* statements. It runs
// after the grants because a suppression reaches only the children that
// exist when it is added, and the X-Ray statements land in the role's
// default policy late.
func suppressWildcards(fn awslambda.Function) {
	suppress(fn.Role(), "AwsSolutions-IAM5",
		"Resource::* is required by the EC2 network-interface actions Lambda uses "+
			"to attach to the VPC and by X-Ray PutTraceSegments/PutTelemetryRecords; "+
			"none of them supports resource-level permissions",
		"Resource::*")
}

// vpcNetworkActions are what Lambda needs to manage a VPC function's
// network interfaces, the same set as the AWS managed VPC access policy.
var vpcNetworkActions = []string{
	"ec2:CreateNetworkInterface",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeSubnets",
	"ec2:DeleteNetworkInterface",
	"ec2:AssignPrivateIpAddresses",
	"ec2:UnassignPrivateIpAddresses",
}

func statement(actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

// consume attaches the function to the event stream. Records of a failed
// batch are split until the bad one is isolated, retried a bounded number
// of times, then sent to a per-consumer queue so one poison event cannot
// stall its shard and is never silently dropped.
func (b *computeBuilder) consume(spec functionSpec, fn awslambda.Function) {
	dlq := b.deadLetterQueue(spec.name)
	p := b.cfg.Profile
	props := &awslambdaeventsources.KinesisEventSourceProps{
		StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:               jsii.Number(spec.consumer.batchSize),
		BisectBatchOnError:      jsii.Bool(true),
		RetryAttempts:           jsii.Number(p.ConsumerRetries),
		MaxRecordAge:            awscdk.Duration_Hours(jsii.Number(p.MaxRecordAgeHours)),
		ReportBatchItemFailures: jsii.Bool(true),
		OnFailure:               awslambdaeventsources.NewSqsDlq(dlq),
		ParallelizationFactor:   jsii.Number(1),
	}
	if spec.consumer.windowSec > 0 {
		props.MaxBatchingWindow = awscdk.Duration_Seconds(jsii.Number(spec.consumer.windowSec))
	}
	fn.AddEventSource(awslambdaeventsources.NewKinesisEventSource(b.data.Stream, props))
	fn.AddEnvironment(jsii.String("EVENTS_STREAM"), b.data.Stream.StreamName(), nil)
	b.out.DLQs[spec.name] = dlq
}

func (b *computeBuilder) deadLetterQueue(name string) awssqs.Queue {
	queue := awssqs.NewQueue(b.scope, jsii.String(constructID(name)+"Dlq"), &awssqs.QueueProps{
		QueueName:       jsii.String(b.cfg.Prefix() + "-" + name + "-dlq"),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   b.cfg.RemovalPolicy(),
	})
	suppress(queue, "AwsSolutions-SQS3",
		"this queue is itself the on-failure destination of a Kinesis event source "+
			"mapping; its messages are replayed by an operator, not consumed")
	return queue
}

func (b *computeBuilder) schedule(spec functionSpec, fn awslambda.Function) {
	awsevents.NewRule(b.scope, jsii.String(constructID(spec.name)+"Schedule"),
		&awsevents.RuleProps{
			Description: jsii.String("runs " + spec.name + " every minute"),
			Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
			Targets: &[]awsevents.IRuleTarget{
				awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
					RetryAttempts: jsii.Number(0),
					MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(1)),
				}),
			},
		})
}

func redisAccess(b *computeBuilder, fn awslambda.Function) {
	setEnv(fn, map[string]*string{
		"REDIS_URL":             b.data.RedisURL(),
		"REDIS_CLUSTER":         jsii.String("true"),
		"REDIS_AUTH_SECRET_ARN": b.data.RedisSecret.SecretArn(),
	})
	b.data.RedisSecret.GrantRead(fn, nil)
}

// databaseAccess passes where the password is, never the password: the
// function reads the secret at cold start and connects to the proxy.
func databaseAccess(b *computeBuilder, fn awslambda.Function) {
	secret := b.data.Database.Secret()
	setEnv(fn, map[string]*string{
		"DB_SECRET_ARN":     secret.SecretArn(),
		"DB_PROXY_ENDPOINT": b.data.Proxy.Endpoint(),
		"DB_PORT":           jsii.String(strconv.Itoa(proxyPort)),
		"DB_NAME":           jsii.String(databaseName),
	})
	secret.GrantRead(fn, nil)
}

func analyticsAccess(b *computeBuilder, fn awslambda.Function) {
	a := b.data.Analytics
	setEnv(fn, map[string]*string{
		"ANALYTICS_DB_SECRET_ARN": a.Secret.SecretArn(),
		"ANALYTICS_DB_ENDPOINT":   a.Workgroup.AttrWorkgroupEndpointAddress(),
		"ANALYTICS_DB_PORT":       jsii.String(strconv.Itoa(redshiftPort)),
		"ANALYTICS_DB_NAME":       jsii.String(analyticsDatabase),
	})
	a.Secret.GrantRead(fn, nil)
}

func streamWriteAccess(b *computeBuilder, fn awslambda.Function) {
	fn.AddEnvironment(jsii.String("EVENTS_STREAM"), b.data.Stream.StreamName(), nil)
	b.data.Stream.GrantWrite(fn)
}

// eventsTableAccess allows writes only: the event log appends, keyed so a
// redelivered event overwrites itself.
func eventsTableAccess(b *computeBuilder, fn awslambda.Function) {
	fn.AddEnvironment(jsii.String("EVENTS_TABLE"), b.data.Table.TableName(), nil)
	b.data.Table.Grant(fn, jsii.String("dynamodb:PutItem"), jsii.String("dynamodb:BatchWriteItem"))
}

// notifyAccess spells the KMS actions out: the topic's own grant adds
// kms:GenerateDataKey*, a wildcard the function does not need.
func notifyAccess(b *computeBuilder, fn awslambda.Function) {
	topic := b.data.NotifyTopic
	fn.AddEnvironment(jsii.String("NOTIFY_TOPIC_ARN"), topic.TopicArn(), nil)
	fn.AddToRolePolicy(statement([]string{"sns:Publish"}, topic.TopicArn()))
	fn.AddToRolePolicy(statement([]string{"kms:GenerateDataKey", "kms:Decrypt"},
		b.data.MessagingKey.KeyArn()))
}

// setEnv adds variables in key order so the template is the same on
// every synth.
func setEnv(fn awslambda.Function, env map[string]*string) {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fn.AddEnvironment(jsii.String(k), env[k], nil)
	}
}

// assetDir is the build output folder of one function.
func assetDir(cfg Config, name string) string {
	return filepath.Join(cfg.LambdaDir, name)
}

// CheckAssets fails early, with the fix in the message, when the build
// output is missing; CDK's own error names only the first missing path.
func CheckAssets(cfg Config) error {
	var missing []string
	for _, name := range FunctionNames {
		if _, err := os.Stat(filepath.Join(assetDir(cfg, name), "bootstrap")); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no bootstrap under %s for %s: run `make build` first, "+
			"or pass -c lambdaDir=DIR", cfg.LambdaDir, strings.Join(missing, ", "))
	}
	return nil
}

// constructID turns a function name such as shopper-api into ShopperApi.
func constructID(name string) string {
	parts := strings.Split(name, "-")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "")
}
