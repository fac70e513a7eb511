// Package testenv builds SDK clients for tests from the SDK's standard
// endpoint variables, skipping a test whose server is not named, or failing
// it under CI. It is the one implementation behind dynacrypttest.DynamoDB
// and dynacrypttest.KMS, for users' tests, and behind internal/testrig, for
// the project's own; it is a package of its own, importing nothing of
// dynacrypt, because testrig serves tests inside package dynacrypt, which
// cannot import dynacrypttest.
package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// The SDK's endpoint variables for the two services.
const (
	DynamoDBVar = "AWS_ENDPOINT_URL_DYNAMODB"
	KMSVar      = "AWS_ENDPOINT_URL_KMS"
)

// DynamoDB returns a client for the server at the URL in DynamoDBVar,
// configured by Config and then by optFns.
func DynamoDB(tb testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	tb.Helper()
	url := Endpoint(tb, DynamoDBVar, "a DynamoDB-compatible server such as DynamoDB Local")
	at := func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) }
	return dynamodb.NewFromConfig(Config(tb), append([]func(*dynamodb.Options){at}, optFns...)...)
}

// KMS returns a client for the server at the URL in KMSVar, configured by
// Config and then by optFns.
func KMS(tb testing.TB, optFns ...func(*kms.Options)) *kms.Client {
	tb.Helper()
	url := Endpoint(tb, KMSVar, "a KMS-compatible server such as local-kms")
	at := func(o *kms.Options) { o.BaseEndpoint = aws.String(url) }
	return kms.NewFromConfig(Config(tb), append([]func(*kms.Options){at}, optFns...)...)
}

// Endpoint returns the URL in envVar. If envVar is unset it skips the test,
// so that `go test` passes on a machine without the server, or, when CI is
// set too, fails it: a build server missing its server must never report the
// tests as passed.
//
// DynamoDB and KMS point their clients at this URL explicitly, rather than
// leaving it to the SDK's resolution, so that they talk to the server
// checked for even where AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is set.
func Endpoint(tb testing.TB, envVar, server string) string {
	tb.Helper()
	url := os.Getenv(envVar)
	switch {
	case url != "":
		return url
	case os.Getenv("CI") != "":
		tb.Fatalf("%s is not set, and CI is: this test needs %s, and must not pass without it", envVar, server)
	default:
		tb.Skipf("%s is not set: start %s and set it to the server's URL", envVar, server)
	}
	return ""
}

// Config loads the SDK's default configuration (region and credentials from
// AWS_REGION, AWS_ACCESS_KEY_ID and the rest), failing the test if it names
// no region: requests to any server need one to be signed.
func Config(tb testing.TB) aws.Config {
	tb.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		tb.Fatalf("loading the AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		tb.Fatalf("no AWS region: set AWS_REGION (any region, such as us-east-1, for a local server)")
	}
	return cfg
}
