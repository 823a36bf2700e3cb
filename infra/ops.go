package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Alarm thresholds that do not depend on the environment.
const (
	iteratorAgeMs   = 60_000 // a consumer a minute behind misses the "about a second" promise
	redisCPUPercent = 80
	redisMemPercent = 80
	auroraACUPct    = 90
	apiServerErrors = 10 // per five minutes
)

// Ops is the alarm topic, the alarms and the dashboard.
type Ops struct {
	Topic  awssns.Topic
	Alarms []awscloudwatch.Alarm
	scope  constructs.Construct
	cfg    Config
}

// NewOps alarms on what breaks a sale: failing or throttled functions,
// consumers falling behind, records parked in a DLQ, Redis and Aurora
// running hot, and API server errors. Every alarm notifies one topic.
func NewOps(
	scope constructs.Construct,
	cfg Config,
	data *Data,
	compute *Compute,
	api *API,
) *Ops {
	o := &Ops{scope: scope, cfg: cfg}
	o.Topic = newTopic(scope, "Alarms", cfg.Prefix()+"-alarms", data.MessagingKey)
	// The topic's SSL-only policy replaces SNS's default one, which was
	// what let CloudWatch publish; say so again, for this account only.
	o.Topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{
			awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
		},
		Actions:   jsii.Strings("sns:Publish"),
		Resources: jsii.Strings(*o.Topic.TopicArn()),
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{
				"aws:SourceAccount": awscdk.Stack_Of(scope).Account(),
			},
		},
	}))
	if cfg.AlarmEmail != "" {
		o.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(
			jsii.String(cfg.AlarmEmail), nil))
	}
	o.functionAlarms(compute)
	o.streamAlarms(data, compute)
	o.storeAlarms(data)
	o.alarm("ApiServerErrors", api.HTTP.MetricServerError(sum()), apiServerErrors,
		"the HTTP API returned 5xx responses")
	newDashboard(scope, cfg, data, compute, api)
	return o
}

func (o *Ops) functionAlarms(compute *Compute) {
	for _, name := range FunctionNames {
		fn := compute.Functions[name]
		id := constructID(name)
		o.alarm(id+"Errors", fn.MetricErrors(sum()), 1, name+" failed invocations")
		o.alarm(id+"Throttles", fn.MetricThrottles(sum()), 1, name+" was throttled")
	}
}

// streamAlarms watch the stream as a whole and each consumer: the stream
// metric shows any reader falling behind, the per-function one says which.
func (o *Ops) streamAlarms(data *Data, compute *Compute) {
	o.alarm("StreamIteratorAge",
		data.Stream.MetricGetRecordsIteratorAgeMilliseconds(maximum()), iteratorAgeMs,
		"events wait more than a minute to be read")
	for _, name := range consumers(compute) {
		id, dlq := constructID(name), compute.DLQs[name]
		o.alarm(id+"IteratorAge",
			compute.Functions[name].Metric(jsii.String("IteratorAge"), maximum()),
			iteratorAgeMs, name+" is more than a minute behind the stream")
		o.alarm(id+"DlqMessages",
			dlq.MetricApproximateNumberOfMessagesVisible(maximum()), 1,
			name+" gave up on events; replay them from its DLQ")
	}
}

// consumers lists the stream consumers in a fixed order, so the template
// does not change between synths with Go's map order.
func consumers(compute *Compute) []string {
	var names []string
	for _, name := range FunctionNames {
		if _, ok := compute.DLQs[name]; ok {
			names = append(names, name)
		}
	}
	return names
}

func (o *Ops) storeAlarms(data *Data) {
	o.alarm("RedisCpu", redisMetric(o.cfg, "EngineCPUUtilization"), redisCPUPercent,
		"a Redis node's engine thread is busy; scripts queue up")
	o.alarm("RedisMemory", redisMetric(o.cfg, "DatabaseMemoryUsagePercentage"),
		redisMemPercent, "a Redis node is filling up; keys will be evicted or writes refused")
	o.alarm("AuroraConnections", data.Database.MetricDatabaseConnections(maximum()),
		0.8*o.cfg.Profile.AuroraMaxConns, "Aurora is near its connection limit")
	o.alarm("AuroraCapacity", data.Database.MetricACUUtilization(maximum()), auroraACUPct,
		"Aurora is near its maximum capacity units")
}

// alarm fires when the metric reaches threshold in one five-minute period
// and treats no data as fine: idle functions publish nothing.
func (o *Ops) alarm(id string, metric awscloudwatch.IMetric, threshold float64, desc string) {
	a := awscloudwatch.NewAlarm(o.scope, jsii.String(id+"Alarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(o.cfg.Prefix() + "-" + kebab(id)),
		AlarmDescription:   jsii.String(desc),
		Metric:             metric,
		Threshold:          jsii.Number(threshold),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	a.AddAlarmAction(awscloudwatchactions.NewSnsAction(o.Topic))
	o.Alarms = append(o.Alarms, a)
}

// redisMetric is the highest value of one metric over every node. Cluster
// mode publishes per node only, keyed by IDs derived from the group ID.
func redisMetric(cfg Config, name string) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	var ids []string
	for i, node := range RedisNodeIDs(cfg) {
		id := fmt.Sprintf("n%d", i)
		ids = append(ids, id)
		using[id] = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/ElastiCache"),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"CacheClusterId": jsii.String(node)},
			Statistic:     jsii.String("Maximum"),
			Period:        awscdk.Duration_Minutes(jsii.Number(5)),
		})
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("MAX([" + strings.Join(ids, ",") + "])"),
		UsingMetrics: &using,
		Label:        jsii.String(name + " (max over nodes)"),
		Period:       awscdk.Duration_Minutes(jsii.Number(5)),
	})
}

func sum() *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{
		Statistic: jsii.String("Sum"),
		Period:    awscdk.Duration_Minutes(jsii.Number(5)),
	}
}

func maximum() *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{
		Statistic: jsii.String("Maximum"),
		Period:    awscdk.Duration_Minutes(jsii.Number(5)),
	}
}

// kebab turns a construct ID such as ShopperApiErrors into
// shopper-api-errors for alarm names.
func kebab(id string) string {
	var b strings.Builder
	for i, r := range id {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// newDashboard puts the sale's vital signs on one page, top to bottom in
// the order a request flows: API, functions, stream, stores.
func newDashboard(
	scope constructs.Construct,
	cfg Config,
	data *Data,
	compute *Compute,
	api *API,
) {
	var invocations, errors, throttles, durations []awscloudwatch.IMetric
	for _, name := range FunctionNames {
		fn := compute.Functions[name]
		invocations = append(invocations, fn.MetricInvocations(sum()))
		errors = append(errors, fn.MetricErrors(sum()))
		throttles = append(throttles, fn.MetricThrottles(sum()))
		durations = append(durations, fn.MetricDuration(p99()))
	}
	var dlqs []awscloudwatch.IMetric
	for _, name := range consumers(compute) {
		dlqs = append(dlqs, compute.DLQs[name].MetricApproximateNumberOfMessagesVisible(maximum()))
	}
	awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(cfg.Prefix()),
		Widgets: &[]*[]awscloudwatch.IWidget{
			row(graph("API requests", api.HTTP.MetricCount(sum())),
				graph("API errors", api.HTTP.MetricClientError(sum()),
					api.HTTP.MetricServerError(sum())),
				graph("API latency p99", api.HTTP.MetricLatency(p99()))),
			row(graph("Invocations", invocations...), graph("Errors", errors...),
				graph("Throttles", throttles...), graph("Duration p99", durations...)),
			row(graph("Events in", data.Stream.MetricIncomingRecords(sum())),
				graph("Stream iterator age",
					data.Stream.MetricGetRecordsIteratorAgeMilliseconds(maximum())),
				graph("DLQ depth", dlqs...)),
			row(graph("Redis CPU", redisMetric(cfg, "EngineCPUUtilization")),
				graph("Redis memory", redisMetric(cfg, "DatabaseMemoryUsagePercentage")),
				graph("Aurora connections", data.Database.MetricDatabaseConnections(maximum())),
				graph("Aurora ACU", data.Database.MetricACUUtilization(maximum()))),
		},
	})
}

func p99() *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{
		Statistic: jsii.String("p99"),
		Period:    awscdk.Duration_Minutes(jsii.Number(5)),
	}
}

func graph(title string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String(title),
		Left:  &metrics,
		Width: jsii.Number(6),
	})
}

func row(widgets ...awscloudwatch.IWidget) *[]awscloudwatch.IWidget {
	return &widgets
}
