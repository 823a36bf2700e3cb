package main

// The WAF choice. API Gateway HTTP APIs cannot be associated with a WAF
// web ACL (only REST APIs, ALBs, AppSync and a few others can). To get a
// rate-based rule per client IP without giving up the HTTP API (cheaper,
// lower latency, native JWT authorizer), CloudFront sits in front of it
// and the web ACL is attached to the distribution. CloudFront-scoped web
// ACLs must be created in us-east-1, so the edge lives in its own stack
// there and reads the API's domain through a (cross-region when needed)
// stack reference. Clients should use the CloudFront URL.
//
// NOTE: the execute-api URL stays reachable and skips the WAF; the $default
// stage throttle still caps it. Closing it needs a shared secret header
// that CloudFront adds and the functions check (see infra/README.md).

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// EdgeStack is CloudFront with a WAF web ACL in front of the HTTP API.
type EdgeStack struct {
	awscdk.Stack
	Distribution awscloudfront.Distribution
	WebACL       awswafv2.CfnWebACL
}

// NewEdgeStack builds the edge for the API at apiEndpoint (an https URL).
func NewEdgeStack(
	scope constructs.Construct,
	id string,
	props *awscdk.StackProps,
	cfg Config,
	apiEndpoint *string,
) *EdgeStack {
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	e := &EdgeStack{Stack: stack}
	e.WebACL = newWebACL(stack, cfg)
	newWAFLogging(stack, cfg, e.WebACL)
	e.Distribution = newDistribution(stack, cfg, apiEndpoint, e.WebACL)
	awscdk.NewCfnOutput(stack, jsii.String("EdgeUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("public URL of the API (through the WAF)"),
		Value:       jsii.String("https://" + *e.Distribution.DistributionDomainName()),
	})
	return e
}

func newWebACL(scope constructs.Construct, cfg Config) awswafv2.CfnWebACL {
	name := cfg.Prefix() + "-edge"
	return awswafv2.NewCfnWebACL(scope, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Name:  jsii.String(name),
		Scope: jsii.String("CLOUDFRONT"),
		DefaultAction: &awswafv2.CfnWebACL_DefaultActionProperty{
			Allow: &awswafv2.CfnWebACL_AllowActionProperty{},
		},
		VisibilityConfig: visibility(name),
		Rules: &[]interface{}{
			managedRule("AWSManagedRulesAmazonIpReputationList", 0),
			rateRule(cfg, 1),
			managedRule("AWSManagedRulesCommonRuleSet", 2, "SizeRestrictions_BODY"),
			managedRule("AWSManagedRulesKnownBadInputsRuleSet", 3),
		},
	})
}

// rateRule blocks a client IP that sends more than the profile's limit in
// a minute, answering 429 so well-behaved clients back off. It is coarse
// on purpose (shoppers behind one NAT share an IP); per-user limits are
// the application's job.
func rateRule(cfg Config, priority float64) *awswafv2.CfnWebACL_RuleProperty {
	return &awswafv2.CfnWebACL_RuleProperty{
		Name:     jsii.String("rate-per-ip"),
		Priority: jsii.Number(priority),
		Statement: &awswafv2.CfnWebACL_StatementProperty{
			RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
				AggregateKeyType:    jsii.String("IP"),
				Limit:               jsii.Number(cfg.Profile.WAFRequestsPerMin),
				EvaluationWindowSec: jsii.Number(60),
			},
		},
		Action: &awswafv2.CfnWebACL_RuleActionProperty{
			Block: &awswafv2.CfnWebACL_BlockActionProperty{
				CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{
					ResponseCode: jsii.Number(429),
				},
			},
		},
		VisibilityConfig: visibility("rate-per-ip"),
	}
}

// managedRule applies an AWS managed rule group. Rules named in countOnly
// only count: the common set's 8 KB body limit would block large admin
// requests such as creating a sale with many products.
func managedRule(
	name string,
	priority float64,
	countOnly ...string,
) *awswafv2.CfnWebACL_RuleProperty {
	overrides := []interface{}{}
	for _, rule := range countOnly {
		overrides = append(overrides, &awswafv2.CfnWebACL_RuleActionOverrideProperty{
			Name: jsii.String(rule),
			ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{
				Count: &awswafv2.CfnWebACL_CountActionProperty{},
			},
		})
	}
	statement := &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{
		VendorName: jsii.String("AWS"),
		Name:       jsii.String(name),
	}
	if len(overrides) > 0 {
		statement.RuleActionOverrides = &overrides
	}
	return &awswafv2.CfnWebACL_RuleProperty{
		Name:     jsii.String(name),
		Priority: jsii.Number(priority),
		Statement: &awswafv2.CfnWebACL_StatementProperty{
			ManagedRuleGroupStatement: statement,
		},
		OverrideAction: &awswafv2.CfnWebACL_OverrideActionProperty{
			None: map[string]interface{}{},
		},
		VisibilityConfig: visibility(name),
	}
}

func visibility(metric string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
	return &awswafv2.CfnWebACL_VisibilityConfigProperty{
		CloudWatchMetricsEnabled: jsii.Bool(true),
		MetricName:               jsii.String(metric),
		SampledRequestsEnabled:   jsii.Bool(true),
	}
}

// newWAFLogging sends WAF logs to CloudWatch. WAF wants the log group's
// ARN without the trailing ":*" that CloudFormation's Arn attribute has,
// and a name that starts with aws-waf-logs-.
func newWAFLogging(stack awscdk.Stack, cfg Config, acl awswafv2.CfnWebACL) {
	name := "aws-waf-logs-" + cfg.Prefix()
	logs := newNamedLogGroup(stack, "WafLogs", name, cfg)
	arn := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("logs"),
		Resource:     jsii.String("log-group"),
		ResourceName: jsii.String(name),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	config := awswafv2.NewCfnLoggingConfiguration(stack, jsii.String("WafLogging"),
		&awswafv2.CfnLoggingConfigurationProps{
			ResourceArn:           acl.AttrArn(),
			LogDestinationConfigs: &[]interface{}{arn},
			// The JWT is a bearer credential; keep it out of the logs.
			RedactedFields: &[]interface{}{
				&awswafv2.CfnLoggingConfiguration_FieldToMatchProperty{
					SingleHeader: map[string]interface{}{"Name": "authorization"},
				},
			},
		})
	config.Node().AddDependency(logs)
}

func newDistribution(
	scope constructs.Construct,
	cfg Config,
	apiEndpoint *string,
	acl awswafv2.CfnWebACL,
) awscloudfront.Distribution {
	props := &awscloudfront.DistributionProps{
		Comment:         jsii.String(cfg.Prefix() + " API edge"),
		DefaultBehavior: apiBehavior(scope, cfg, apiEndpoint),
		WebAclId:        acl.AttrArn(),
		HttpVersion:     awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:      priceClass(cfg),
		EnableLogging:   jsii.Bool(true),
		LogBucket:       newAccessLogBucket(scope, cfg),
		LogFilePrefix:   jsii.String("cloudfront/"),
	}
	if cfg.EdgeDomainName != "" {
		props.DomainNames = jsii.Strings(cfg.EdgeDomainName)
		props.Certificate = awscertificatemanager.Certificate_FromCertificateArn(
			scope, jsii.String("Certificate"), jsii.String(cfg.EdgeCertificateARN))
		props.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
	}
	dist := awscloudfront.NewDistribution(scope, jsii.String("Distribution"), props)
	if cfg.EdgeDomainName == "" {
		suppress(dist, "AwsSolutions-CFR4",
			"without a custom domain CloudFront serves its default *.cloudfront.net "+
				"certificate, whose viewer policy cannot be raised; set context "+
				"edgeDomainName and edgeCertificateArn to get TLSv1.2_2021")
	}
	return dist
}

// apiBehavior forwards every request to the API. Authorization has to be
// in the cache key to be forwarded at all; a zero default TTL means only
// responses that ask for caching (e.g. a public sale list with
// max-age=1) are cached, which absorbs refresh storms at sale start.
func apiBehavior(
	scope constructs.Construct,
	cfg Config,
	apiEndpoint *string,
) *awscloudfront.BehaviorOptions {
	domain := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), apiEndpoint, nil))
	cache := awscloudfront.NewCachePolicy(scope, jsii.String("ApiCachePolicy"),
		&awscloudfront.CachePolicyProps{
			CachePolicyName: jsii.String(cfg.Prefix() + "-api"),
			Comment:         jsii.String("forward Authorization; cache only on request"),
			DefaultTtl:      awscdk.Duration_Seconds(jsii.Number(0)),
			MinTtl:          awscdk.Duration_Seconds(jsii.Number(0)),
			MaxTtl:          awscdk.Duration_Seconds(jsii.Number(1)),
			HeaderBehavior: awscloudfront.CacheHeaderBehavior_AllowList(
				jsii.String("authorization")),
			QueryStringBehavior: awscloudfront.CacheQueryStringBehavior_All(),
			CookieBehavior:      awscloudfront.CacheCookieBehavior_None(),
			// Let CloudFront compress responses; the encodings join the key.
			EnableAcceptEncodingGzip:   jsii.Bool(true),
			EnableAcceptEncodingBrotli: jsii.Bool(true),
		})
	return &awscloudfront.BehaviorOptions{
		Origin: awscloudfrontorigins.NewHttpOrigin(domain, &awscloudfrontorigins.HttpOriginProps{
			ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
			OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{
				awscloudfront.OriginSslPolicy_TLS_V1_2,
			},
		}),
		AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
		ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
		CachePolicy:          cache,
		// API Gateway routes on its own Host name, so the viewer's Host
		// must not be forwarded.
		OriginRequestPolicy: awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
	}
}

func priceClass(cfg Config) awscloudfront.PriceClass {
	if cfg.Profile.Production {
		return awscloudfront.PriceClass_PRICE_CLASS_ALL
	}
	return awscloudfront.PriceClass_PRICE_CLASS_100
}

// newAccessLogBucket holds CloudFront's standard logs. Standard logging
// writes with ACLs, so object ownership must allow them; the bucket is
// retained on delete because logs are evidence, and expire by lifecycle.
func newAccessLogBucket(scope constructs.Construct, cfg Config) awss3.Bucket {
	days := 30.0
	if cfg.Profile.Production {
		days = 365
	}
	bucket := awss3.NewBucket(scope, jsii.String("AccessLogs"), &awss3.BucketProps{
		ObjectOwnership:   awss3.ObjectOwnership_OBJECT_WRITER,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{
			{Expiration: awscdk.Duration_Days(jsii.Number(days))},
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	suppress(bucket, "AwsSolutions-S1",
		"this bucket is the access-log sink itself; logging its own access "+
			"would need another bucket with the same question")
	return bucket
}
