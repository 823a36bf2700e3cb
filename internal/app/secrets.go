package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/flashsale/flashsale/internal/config"
)

// ResolveSecrets fills the database and Redis URLs from Secrets Manager when
// the environment names secrets instead (AWS). Locally no secret is named
// and nothing is fetched. It runs once, at cold start.
func ResolveSecrets(ctx context.Context, cfg *config.Config) error {
	if cfg.DB.SecretARN == "" && cfg.Analytics.SecretARN == "" && cfg.RedisAuthSecretARN == "" {
		return nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	get := func(arn string) (string, error) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
		if err != nil {
			return "", fmt.Errorf("read secret %s: %w", arn, err)
		}
		return *out.SecretString, nil
	}
	for _, db := range []struct {
		spec *config.SecretDB
		url  *string
	}{{&cfg.DB, &cfg.DatabaseURL}, {&cfg.Analytics, &cfg.AnalyticsDatabaseURL}} {
		if db.spec.SecretARN == "" {
			continue
		}
		secret, err := get(db.spec.SecretARN)
		if err != nil {
			return err
		}
		if *db.url, err = DatabaseURL(*db.spec, secret); err != nil {
			return err
		}
	}
	if cfg.RedisAuthSecretARN != "" {
		token, err := get(cfg.RedisAuthSecretARN)
		if err != nil {
			return err
		}
		if cfg.RedisURL, err = WithRedisToken(cfg.RedisURL, token); err != nil {
			return err
		}
	}
	return nil
}

// DatabaseURL builds a TLS connection URL from an endpoint and a secret in
// the JSON shape that RDS and Redshift generate ({"username","password"}).
func DatabaseURL(db config.SecretDB, secret string) (string, error) {
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(secret), &creds); err != nil || creds.Username == "" {
		return "", fmt.Errorf("database secret %s: want JSON with username and password", db.SecretARN)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(creds.Username, creds.Password),
		Host:     net.JoinHostPort(db.Endpoint, db.Port),
		Path:     "/" + db.Name,
		RawQuery: "sslmode=require",
	}
	return u.String(), nil
}

// WithRedisToken puts an AUTH token (the default user's password) into a
// Redis URL.
func WithRedisToken(redisURL, token string) (string, error) {
	u, err := url.Parse(redisURL)
	if err != nil {
		return "", fmt.Errorf("parse redis url: %w", err)
	}
	u.User = url.UserPassword("", token)
	return u.String(), nil
}
