package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticache"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsredshiftserverless"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Ports the data stores listen on. Redis moves off 6379 because cdk-nag
// asks for a non-default port; RDS Proxy only listens on 5432.
const (
	redisPort    = 6380
	auroraPort   = 5433
	proxyPort    = 5432
	redshiftPort = 5439
)

// Names inside the data stores that the functions need to know.
const (
	databaseName      = "flashsale"
	databaseUser      = "flashsale"
	analyticsDatabase = "flashsale"
	analyticsUser     = "flashsale_admin"
)

// Data holds every stateful resource: the Redis shock absorber, the
// PostgreSQL source of truth, the event stream and log, the analytics
// warehouse and the notification topic.
type Data struct {
	Redis       awselasticache.CfnReplicationGroup
	RedisSecret awssecretsmanager.Secret
	Database    awsrds.DatabaseCluster
	Proxy       awsrds.DatabaseProxy
	Stream      awskinesis.Stream
	Table       awsdynamodb.Table
	Analytics   *Analytics
	// MessagingKey encrypts the SNS topics; CloudWatch alarms cannot
	// publish to a topic under the AWS managed SNS key.
	MessagingKey awskms.Key
	NotifyTopic  awssns.Topic
}

// Analytics is the Redshift Serverless warehouse for flash_sale_metrics.
type Analytics struct {
	Namespace awsredshiftserverless.CfnNamespace
	Workgroup awsredshiftserverless.CfnWorkgroup
	Secret    awssecretsmanager.Secret
}

// NewData builds the data tier inside the network's isolated subnets.
func NewData(scope constructs.Construct, cfg Config, net *Network) *Data {
	d := &Data{}
	d.Redis, d.RedisSecret = newRedis(scope, cfg, net)
	d.Database, d.Proxy = newDatabase(scope, cfg, net)
	d.Stream = newStream(scope, cfg)
	d.Table = newEventsTable(scope, cfg)
	d.Analytics = newAnalytics(scope, cfg, net)
	d.MessagingKey = newMessagingKey(scope, cfg)
	d.NotifyTopic = newTopic(scope, "Notifications", cfg.Prefix()+"-notifications", d.MessagingKey)
	return d
}

// RedisURL is the cluster configuration endpoint; the AUTH token is not
// in it and is read from RedisSecret at cold start.
func (d *Data) RedisURL() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("rediss://"),
		d.Redis.AttrConfigurationEndPointAddress(),
		jsii.String(":"),
		d.Redis.AttrConfigurationEndPointPort(),
	})
}

// RedisNodeIDs lists the cache cluster IDs ElastiCache gives the nodes of
// the replication group, which is how its CloudWatch metrics are keyed.
func RedisNodeIDs(cfg Config) []string {
	var ids []string
	for shard := 1; shard <= cfg.Profile.RedisShards; shard++ {
		for node := 1; node <= cfg.Profile.RedisReplicas+1; node++ {
			ids = append(ids, fmt.Sprintf("%s-%04d-%03d", cfg.Prefix(), shard, node))
		}
	}
	return ids
}

func newRedis(
	scope constructs.Construct,
	cfg Config,
	net *Network,
) (awselasticache.CfnReplicationGroup, awssecretsmanager.Secret) {
	// ElastiCache refuses punctuation such as @ and / in AUTH tokens.
	secret := awssecretsmanager.NewSecret(scope, jsii.String("RedisAuthToken"),
		&awssecretsmanager.SecretProps{
			Description: jsii.String("AUTH token of the flash-sale Redis cluster"),
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				ExcludePunctuation: jsii.Bool(true),
				PasswordLength:     jsii.Number(64),
			},
			RemovalPolicy: cfg.RemovalPolicy(),
		})
	suppress(secret, "AwsSolutions-SMG4",
		"ElastiCache has no managed rotation for AUTH tokens: rotating needs "+
			"ModifyReplicationGroup ROTATE then SET while clients reload; "+
			"the runbook is in infra/README.md")

	group := newIngressGroup(scope, "Redis", net, redisPort)
	subnets := awselasticache.NewCfnSubnetGroup(scope, jsii.String("RedisSubnets"),
		&awselasticache.CfnSubnetGroupProps{
			Description: jsii.String("isolated subnets of the flash-sale Redis cluster"),
			SubnetIds:   stringsToAny(net.SubnetIDs(subnetData)),
		})
	redis := awselasticache.NewCfnReplicationGroup(scope, jsii.String("Redis"),
		redisProps(cfg, secret, group, subnets))
	redis.ApplyRemovalPolicy(cfg.SnapshotPolicy(), nil)
	return redis, secret
}

// redisProps is a cluster-mode Valkey group: keys of one sale product share
// a hash tag, so every Lua script stays on one shard while load spreads
// over the shards. Valkey speaks the Redis protocol go-redis uses.
func redisProps(
	cfg Config,
	secret awssecretsmanager.Secret,
	group awsec2.SecurityGroup,
	subnets awselasticache.CfnSubnetGroup,
) *awselasticache.CfnReplicationGroupProps {
	p := cfg.Profile
	return &awselasticache.CfnReplicationGroupProps{
		ReplicationGroupId:          jsii.String(cfg.Prefix()),
		ReplicationGroupDescription: jsii.String("flash-sale stock, holds and idempotency keys"),
		Engine:                      jsii.String("valkey"),
		EngineVersion:               jsii.String("8.0"),
		CacheParameterGroupName:     jsii.String("default.valkey8.cluster.on"),
		CacheNodeType:               jsii.String(p.RedisNodeType),
		ClusterMode:                 jsii.String("enabled"),
		NumNodeGroups:               jsii.Number(float64(p.RedisShards)),
		ReplicasPerNodeGroup:        jsii.Number(float64(p.RedisReplicas)),
		MultiAzEnabled:              jsii.Bool(true),
		AutomaticFailoverEnabled:    jsii.Bool(true),
		TransitEncryptionEnabled:    jsii.Bool(true),
		TransitEncryptionMode:       jsii.String("required"),
		AtRestEncryptionEnabled:     jsii.Bool(true),
		AuthToken:                   secret.SecretValue().UnsafeUnwrap(),
		Port:                        jsii.Number(redisPort),
		CacheSubnetGroupName:        subnets.Ref(),
		SecurityGroupIds:            jsii.Strings(*group.SecurityGroupId()),
		SnapshotRetentionLimit:      jsii.Number(snapshotDays(cfg)),
		AutoMinorVersionUpgrade:     jsii.Bool(true),
	}
}

func snapshotDays(cfg Config) float64 {
	if cfg.Profile.Production {
		return 7
	}
	return 1
}

// newIngressGroup is a security group that admits the functions on one
// port and sends nothing out.
func newIngressGroup(
	scope constructs.Construct,
	name string,
	net *Network,
	port float64,
) awsec2.SecurityGroup {
	group := awsec2.NewSecurityGroup(scope, jsii.String(name+"SecurityGroup"),
		&awsec2.SecurityGroupProps{
			Vpc:              net.VPC,
			Description:      jsii.String(name + " of the flash-sale backend"),
			AllowAllOutbound: jsii.Bool(false),
		})
	group.AddIngressRule(net.Functions, awsec2.Port_Tcp(jsii.Number(port)),
		jsii.String("functions to "+name), nil)
	return group
}

func newDatabase(
	scope constructs.Construct,
	cfg Config,
	net *Network,
) (awsrds.DatabaseCluster, awsrds.DatabaseProxy) {
	// RDS writes to this group by name; creating it first lets the stack
	// own its retention instead of a log-retention custom resource.
	logs := newNamedLogGroup(scope, "DatabaseLogs",
		"/aws/rds/cluster/"+cfg.Prefix()+"/postgresql", cfg)
	cluster := awsrds.NewDatabaseCluster(scope, jsii.String("Database"), databaseProps(cfg, net))
	cluster.Node().AddDependency(logs)
	if !cfg.Profile.Production {
		suppress(cluster.Node().DefaultChild(), "AwsSolutions-RDS10",
			"dev stacks are disposable and must delete cleanly; prod sets deletion "+
				"protection (profile Production)")
	}
	cluster.AddRotationSingleUser(&awsrds.RotationSingleUserOptions{
		AutomaticallyAfter: awscdk.Duration_Days(jsii.Number(30)),
		VpcSubnets:         net.Subnets(subnetData),
		Endpoint:           net.SecretsEndpoint,
		SecurityGroup:      net.Rotation,
	})
	return cluster, newProxy(scope, cfg, net, cluster)
}

func databaseProps(cfg Config, net *Network) *awsrds.DatabaseClusterProps {
	p := cfg.Profile
	return &awsrds.DatabaseClusterProps{
		ClusterIdentifier: jsii.String(cfg.Prefix()),
		Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(
			&awsrds.AuroraPostgresClusterEngineProps{
				Version: awsrds.AuroraPostgresEngineVersion_VER_16_9(),
			}),
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String(databaseUser),
			&awsrds.CredentialsBaseOptions{SecretName: jsii.String(cfg.Prefix() + "/database")}),
		DefaultDatabaseName:     jsii.String(databaseName),
		Writer:                  awsrds.ClusterInstance_ServerlessV2(jsii.String("Writer"), nil),
		Readers:                 auroraReaders(p.AuroraReaders),
		ServerlessV2MinCapacity: jsii.Number(p.AuroraMinACU),
		ServerlessV2MaxCapacity: jsii.Number(p.AuroraMaxACU),
		Vpc:                     net.VPC,
		VpcSubnets:              net.Subnets(subnetData),
		Port:                    jsii.Number(auroraPort),
		StorageEncrypted:        jsii.Bool(true),
		IamAuthentication:       jsii.Bool(true),
		DeletionProtection:      jsii.Bool(p.Production),
		Backup: &awsrds.BackupProps{
			Retention: awscdk.Duration_Days(jsii.Number(p.AuroraBackupDays)),
		},
		CloudwatchLogsExports: jsii.Strings("postgresql"),
		RemovalPolicy:         cfg.SnapshotPolicy(),
	}
}

// auroraReaders scale with the writer so that a failover lands on a
// reader already sized for the writer's load.
func auroraReaders(n int) *[]awsrds.IClusterInstance {
	readers := []awsrds.IClusterInstance{}
	for i := 1; i <= n; i++ {
		readers = append(readers, awsrds.ClusterInstance_ServerlessV2(
			jsii.String(fmt.Sprintf("Reader%d", i)),
			&awsrds.ServerlessV2ClusterInstanceProps{ScaleWithWriter: jsii.Bool(true)}))
	}
	return &readers
}

// newProxy pools connections so that a spike of Lambda cold starts does
// not exhaust Aurora's connection slots. Functions authenticate with the
// secret's password over TLS. AddProxy itself opens the cluster's group
// to the proxy's.
func newProxy(
	scope constructs.Construct,
	cfg Config,
	net *Network,
	cluster awsrds.DatabaseCluster,
) awsrds.DatabaseProxy {
	group := newIngressGroup(scope, "DatabaseProxy", net, proxyPort)
	proxy := cluster.AddProxy(jsii.String("Proxy"), &awsrds.DatabaseProxyOptions{
		DbProxyName:       jsii.String(cfg.Prefix()),
		Secrets:           &[]awssecretsmanager.ISecret{cluster.Secret()},
		Vpc:               net.VPC,
		VpcSubnets:        net.Subnets(subnetData),
		SecurityGroups:    &[]awsec2.ISecurityGroup{group},
		RequireTLS:        jsii.Bool(true),
		IdleClientTimeout: awscdk.Duration_Minutes(jsii.Number(30)),
		BorrowTimeout:     awscdk.Duration_Seconds(jsii.Number(30)),
	})
	return proxy
}

func newStream(scope constructs.Construct, cfg Config) awskinesis.Stream {
	// The AWS managed key keeps consumers free of KMS grants and is what
	// cdk-nag recommends over a customer key for streams.
	return awskinesis.NewStream(scope, jsii.String("Events"), &awskinesis.StreamProps{
		StreamName:      jsii.String(cfg.Prefix() + "-events"),
		StreamMode:      awskinesis.StreamMode_ON_DEMAND,
		Encryption:      awskinesis.StreamEncryption_MANAGED,
		RetentionPeriod: awscdk.Duration_Hours(jsii.Number(cfg.Profile.StreamRetentionHours)),
		RemovalPolicy:   cfg.RemovalPolicy(),
	})
}

// newEventsTable is flash_sale_events: one partition per sale, sorted by
// event time plus event id so that a replayed event overwrites itself.
func newEventsTable(scope constructs.Construct, cfg Config) awsdynamodb.Table {
	return awsdynamodb.NewTable(scope, jsii.String("EventsTable"), &awsdynamodb.TableProps{
		TableName: jsii.String("flash_sale_events_" + cfg.Env),
		PartitionKey: &awsdynamodb.Attribute{
			Name: jsii.String("sale_id"), Type: awsdynamodb.AttributeType_STRING,
		},
		SortKey: &awsdynamodb.Attribute{
			Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING,
		},
		BillingMode: awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
		DeletionProtection: jsii.Bool(cfg.Profile.Production),
		RemovalPolicy:      cfg.RemovalPolicy(),
	})
}

func newAnalytics(scope constructs.Construct, cfg Config, net *Network) *Analytics {
	secret := newAnalyticsSecret(scope, cfg)
	ns := awsredshiftserverless.NewCfnNamespace(scope, jsii.String("AnalyticsNamespace"),
		&awsredshiftserverless.CfnNamespaceProps{
			NamespaceName:     jsii.String(cfg.Prefix()),
			AdminUsername:     jsii.String(analyticsUser),
			AdminUserPassword: secret.SecretValueFromJson(jsii.String("password")).UnsafeUnwrap(),
			DbName:            jsii.String(analyticsDatabase),
			LogExports:        jsii.Strings("userlog", "connectionlog", "useractivitylog"),
		})
	ns.ApplyRemovalPolicy(cfg.RemovalPolicy(), nil)

	group := newIngressGroup(scope, "Analytics", net, redshiftPort)
	wg := awsredshiftserverless.NewCfnWorkgroup(scope, jsii.String("AnalyticsWorkgroup"),
		&awsredshiftserverless.CfnWorkgroupProps{
			WorkgroupName:      jsii.String(cfg.Prefix()),
			NamespaceName:      ns.NamespaceName(),
			BaseCapacity:       jsii.Number(cfg.Profile.RedshiftBaseRPU),
			EnhancedVpcRouting: jsii.Bool(true),
			PubliclyAccessible: jsii.Bool(false),
			Port:               jsii.Number(redshiftPort),
			SubnetIds:          stringsToAny(net.SubnetIDs(subnetData)),
			SecurityGroupIds:   &[]interface{}{group.SecurityGroupId()},
		})
	wg.Node().AddDependency(ns)
	return &Analytics{Namespace: ns, Workgroup: wg, Secret: secret}
}

// newAnalyticsSecret holds the warehouse admin login in the JSON shape the
// RDS secrets use, so one loader reads both.
func newAnalyticsSecret(scope constructs.Construct, cfg Config) awssecretsmanager.Secret {
	secret := awssecretsmanager.NewSecret(scope, jsii.String("AnalyticsAdmin"),
		&awssecretsmanager.SecretProps{
			SecretName:  jsii.String(cfg.Prefix() + "/analytics"),
			Description: jsii.String("admin login of the flash-sale Redshift Serverless namespace"),
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				SecretStringTemplate:    jsii.String(`{"username":"` + analyticsUser + `"}`),
				GenerateStringKey:       jsii.String("password"),
				ExcludeCharacters:       jsii.String(`"'\/@ `),
				PasswordLength:          jsii.Number(32),
				RequireEachIncludedType: jsii.Bool(true),
			},
			RemovalPolicy: cfg.RemovalPolicy(),
		})
	suppress(secret, "AwsSolutions-SMG4",
		"Secrets Manager has no hosted rotation function for Redshift Serverless "+
			"namespaces; rotate by changing the namespace admin password from "+
			"this secret (runbook in infra/README.md)")
	return secret
}

// newMessagingKey is the customer key of the SNS topics. Its policy lets
// CloudWatch alarms publish, which the AWS managed SNS key cannot allow.
func newMessagingKey(scope constructs.Construct, cfg Config) awskms.Key {
	key := awskms.NewKey(scope, jsii.String("MessagingKey"), &awskms.KeyProps{
		Description:       jsii.String("encrypts the flash-sale SNS topics"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     cfg.RemovalPolicy(),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{
			awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
		},
		Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources: jsii.Strings("*"),
	}), nil)
	return key
}

func newTopic(scope constructs.Construct, id, name string, key awskms.Key) awssns.Topic {
	return awssns.NewTopic(scope, jsii.String(id), &awssns.TopicProps{
		TopicName:  jsii.String(name),
		MasterKey:  key,
		EnforceSSL: jsii.Bool(true),
	})
}

func stringsToAny(in *[]*string) *[]interface{} {
	out := make([]interface{}, 0, len(*in))
	for _, s := range *in {
		out = append(out, s)
	}
	return &out
}
