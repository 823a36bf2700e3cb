package main

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AdminGroup is the Cognito group whose members may call AdminService.
// The HTTP API's JWT authorizer only checks that a token is valid; the
// admin-api function checks the cognito:groups claim for this group.
const AdminGroup = "admin"

// API is the public HTTP entry point and the user pool behind it.
type API struct {
	HTTP     awsapigatewayv2.HttpApi
	Stage    awsapigatewayv2.HttpStage
	Users    awscognito.UserPool
	Clients  map[string]awscognito.UserPoolClient
	auth     awsapigatewayv2.IHttpRouteAuthorizer
	backends map[string]awsapigatewayv2.HttpRouteIntegration
}

// route is one HTTP route; public routes skip the JWT authorizer.
type route struct {
	method  awsapigatewayv2.HttpMethod
	path    string
	backend string
	public  bool
}

// routes are the Connect and REST routes of the design. Connect calls are
// all POST under the service's path; the REST routes are transcoded by
// the same handlers. Browsing a sale and health checks are public.
var routes = []route{
	{awsapigatewayv2.HttpMethod_POST, "/flashsale.v1.ShopperService/{proxy+}", FnShopperAPI, false},
	{awsapigatewayv2.HttpMethod_POST, "/flashsale.v1.AdminService/{proxy+}", FnAdminAPI, false},
	{awsapigatewayv2.HttpMethod_POST, "/grpc.health.v1.Health/{proxy+}", FnShopperAPI, true},
	{awsapigatewayv2.HttpMethod_GET, "/api/flash-sale/active", FnShopperAPI, true},
	{awsapigatewayv2.HttpMethod_GET, "/api/flash-sale/{saleId}/products", FnShopperAPI, true},
	{awsapigatewayv2.HttpMethod_POST, "/api/flash-sale/{saleId}/reserve", FnShopperAPI, false},
	{awsapigatewayv2.HttpMethod_POST, "/api/flash-sale/{saleId}/confirm", FnShopperAPI, false},
	{awsapigatewayv2.HttpMethod_POST, "/api/flash-sale/{saleId}/release", FnShopperAPI, false},
	{awsapigatewayv2.HttpMethod_ANY, "/api/admin/{proxy+}", FnAdminAPI, false},
}

// corsHeaders are what a browser Connect client sends beyond the simple
// headers; exposed headers let it read gRPC-style errors.
var (
	corsAllowHeaders = []string{
		"content-type", "authorization", "connect-protocol-version",
		"connect-timeout-ms", "idempotency-key", "x-user-agent",
	}
	corsExposeHeaders = []string{"grpc-status", "grpc-message"}
)

// NewAPI builds the user pool, the HTTP API, its routes and its stage.
func NewAPI(scope constructs.Construct, cfg Config, compute *Compute) *API {
	a := &API{Clients: map[string]awscognito.UserPoolClient{}}
	a.Users = newUserPool(scope, cfg)
	a.Clients["web"] = newClient(a.Users, "WebClient")
	a.Clients["admin-cli"] = newClient(a.Users, "AdminCliClient")
	a.auth = awsapigatewayv2authorizers.NewHttpUserPoolAuthorizer(jsii.String("Jwt"), a.Users,
		&awsapigatewayv2authorizers.HttpUserPoolAuthorizerProps{
			AuthorizerName: jsii.String("cognito-jwt"),
			UserPoolClients: &[]awscognito.IUserPoolClient{
				a.Clients["web"], a.Clients["admin-cli"],
			},
		})
	a.HTTP = newHTTPAPI(scope, cfg)
	a.backends = integrations(compute)
	for _, r := range routes {
		a.addRoute(r)
	}
	a.Stage = newStage(scope, cfg, a.HTTP)
	return a
}

// Endpoint is the API's own URL; with the $default stage paths carry no
// stage prefix.
func (a *API) Endpoint() *string {
	return a.HTTP.ApiEndpoint()
}

func newUserPool(scope constructs.Construct, cfg Config) awscognito.UserPool {
	pool := awscognito.NewUserPool(scope, jsii.String("Users"), &awscognito.UserPoolProps{
		UserPoolName:      jsii.String(cfg.Prefix() + "-users"),
		SelfSignUpEnabled: jsii.Bool(true),
		SignInAliases:     &awscognito.SignInAliases{Email: jsii.Bool(true)},
		AutoVerify:        &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		AccountRecovery:   awscognito.AccountRecovery_EMAIL_ONLY,
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:        jsii.Number(12),
			RequireLowercase: jsii.Bool(true),
			RequireUppercase: jsii.Bool(true),
			RequireDigits:    jsii.Bool(true),
			RequireSymbols:   jsii.Bool(true),
		},
		// Shoppers may opt in; forcing MFA at sign-up loses buyers.
		Mfa:             awscognito.Mfa_OPTIONAL,
		MfaSecondFactor: &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
		// Plus brings threat protection against credential stuffing,
		// which sale starts attract. Dev only audits to stay quiet.
		FeaturePlan:                  awscognito.FeaturePlan_PLUS,
		StandardThreatProtectionMode: threatMode(cfg),
		DeletionProtection:           jsii.Bool(cfg.Profile.Production),
		RemovalPolicy:                cfg.RemovalPolicy(),
	})
	awscognito.NewCfnUserPoolGroup(scope, jsii.String("AdminGroup"),
		&awscognito.CfnUserPoolGroupProps{
			UserPoolId:  pool.UserPoolId(),
			GroupName:   jsii.String(AdminGroup),
			Description: jsii.String("may call AdminService and /api/admin"),
			Precedence:  jsii.Number(0),
		})
	return pool
}

func threatMode(cfg Config) awscognito.StandardThreatProtectionMode {
	if cfg.Profile.Production {
		return awscognito.StandardThreatProtectionMode_FULL_FUNCTION
	}
	return awscognito.StandardThreatProtectionMode_AUDIT_ONLY
}

// newClient is a public client (no secret) signing in with SRP, as a
// browser, a phone or the admin CLI can hold no secret.
func newClient(pool awscognito.UserPool, id string) awscognito.UserPoolClient {
	return pool.AddClient(jsii.String(id), &awscognito.UserPoolClientOptions{
		AuthFlows:                  &awscognito.AuthFlow{UserSrp: jsii.Bool(true)},
		GenerateSecret:             jsii.Bool(false),
		DisableOAuth:               jsii.Bool(true),
		PreventUserExistenceErrors: jsii.Bool(true),
		EnableTokenRevocation:      jsii.Bool(true),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(1)),
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(1)),
		RefreshTokenValidity:       awscdk.Duration_Days(jsii.Number(30)),
	})
}

func newHTTPAPI(scope constructs.Construct, cfg Config) awsapigatewayv2.HttpApi {
	return awsapigatewayv2.NewHttpApi(scope, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName: jsii.String(cfg.Prefix() + "-api"),
		// The stage is built below so that it carries throttling and logs.
		CreateDefaultStage: jsii.Bool(false),
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins:  jsii.Strings(cfg.CORSOrigins...),
			AllowHeaders:  jsii.Strings(corsAllowHeaders...),
			ExposeHeaders: jsii.Strings(corsExposeHeaders...),
			AllowMethods: &[]awsapigatewayv2.CorsHttpMethod{
				awsapigatewayv2.CorsHttpMethod_GET,
				awsapigatewayv2.CorsHttpMethod_POST,
				awsapigatewayv2.CorsHttpMethod_OPTIONS,
			},
			MaxAge: awscdk.Duration_Hours(jsii.Number(1)),
		},
	})
}

// integrations makes one payload-v2 Lambda integration per HTTP function,
// shared by all of its routes.
func integrations(compute *Compute) map[string]awsapigatewayv2.HttpRouteIntegration {
	out := map[string]awsapigatewayv2.HttpRouteIntegration{}
	for _, name := range []string{FnShopperAPI, FnAdminAPI} {
		out[name] = awsapigatewayv2integrations.NewHttpLambdaIntegration(
			jsii.String(constructID(name)+"Integration"), compute.Functions[name],
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			})
	}
	return out
}

func (a *API) addRoute(r route) {
	opts := &awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(r.path),
		Methods:     &[]awsapigatewayv2.HttpMethod{r.method},
		Integration: a.backends[r.backend],
	}
	if !r.public {
		opts.Authorizer = a.auth
	}
	for _, created := range *a.HTTP.AddRoutes(opts) {
		if r.public {
			suppress(created.Node().DefaultChild(), "AwsSolutions-APIG4",
				"public by design: sale listings, products and health checks are "+
					"read by anonymous shoppers and load balancers; the stage "+
					"throttle and the edge WAF rate rule still apply")
		}
	}
}

// newStage is the auto-deployed $default stage, so paths carry no stage
// prefix. Its throttle caps the whole API; per-IP limits live in the edge
// WAF and per-user limits in the application.
func newStage(
	scope constructs.Construct,
	cfg Config,
	api awsapigatewayv2.HttpApi,
) awsapigatewayv2.HttpStage {
	stage := awsapigatewayv2.NewHttpStage(scope, jsii.String("DefaultStage"),
		&awsapigatewayv2.HttpStageProps{
			HttpApi:    api,
			StageName:  jsii.String("$default"),
			AutoDeploy: jsii.Bool(true),
			Throttle: &awsapigatewayv2.ThrottleSettings{
				RateLimit:  jsii.Number(cfg.Profile.APIRateLimit),
				BurstLimit: jsii.Number(cfg.Profile.APIBurstLimit),
			},
			DetailedMetricsEnabled: jsii.Bool(true),
		})
	logs := newLogGroup(scope, "ApiAccess", cfg)
	cfn := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfn.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat()),
	})
	return stage
}

// accessLogFormat logs one JSON line per request with ids and timings,
// never headers or bodies.
func accessLogFormat() string {
	fields := map[string]string{
		"requestId":          "$context.requestId",
		"ip":                 "$context.identity.sourceIp",
		"requestTime":        "$context.requestTime",
		"routeKey":           "$context.routeKey",
		"status":             "$context.status",
		"protocol":           "$context.protocol",
		"responseLength":     "$context.responseLength",
		"latencyMs":          "$context.responseLatency",
		"integrationLatency": "$context.integrationLatency",
		"integrationError":   "$context.integrationErrorMessage",
		"authorizerError":    "$context.authorizer.error",
		"sub":                "$context.authorizer.claims.sub",
	}
	out, _ := json.Marshal(fields) // a map of strings always marshals
	return string(out)
}
