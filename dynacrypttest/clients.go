package dynacrypttest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/internal/testenv"
)

// DynamoDB returns a client for the DynamoDB-compatible server (DynamoDB
// Local, dynalite, or DynamoDB itself) at the URL in
// AWS_ENDPOINT_URL_DYNAMODB, the SDK's standard variable. The region and
// credentials come from the SDK's usual sources, such as AWS_REGION,
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values do for a local
// server); optFns then adjust the client, as in [dynamodb.NewFromConfig].
//
// When AWS_ENDPOINT_URL_DYNAMODB is unset, DynamoDB skips the test, so that
// `go test` passes on a machine without a server; but when the environment
// variable CI is set too (to anything), it fails the test instead, so that a
// build server missing its database never reports the tests as passed. The
// test also fails if no region is configured.
func DynamoDB(tb testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	tb.Helper()
	return testenv.DynamoDB(tb, optFns...)
}

// KMS returns a client for the KMS-compatible server (local-kms, or KMS
// itself) at the URL in AWS_ENDPOINT_URL_KMS. It configures the client,
// skips the test, or fails it, as [DynamoDB] does.
func KMS(tb testing.TB, optFns ...func(*kms.Options)) *kms.Client {
	tb.Helper()
	return testenv.KMS(tb, optFns...)
}
