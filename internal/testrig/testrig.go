// Package testrig connects dynacrypt's integration tests to the servers
// that `make test` starts (dynalite and local-kms), or to any endpoints named
// by the SDK's standard variables: AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_KMS. When a variable is unset the test is skipped, except
// under CI (CI set), where it fails: a missing server must never pass as
// green. That rule and the clients come from internal/testenv, which serves
// users' tests too, through dynacrypttest.DynamoDB and dynacrypttest.KMS;
// testrig adds the project's keys, request counting, throttling, and a
// proxy that loses answers (faults.go).
package testrig

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/internal/testenv"
)

// Key identifiers of the keys `make test` seeds into local-kms
// (scripts/kms-seed.yaml).
const (
	KeyA = "alias/dynacrypt-test"
	KeyB = "alias/dynacrypt-test-b"
	// The rotation test disables RotateA; nothing else may use it.
	RotateA   = "alias/dynacrypt-rotate-a"
	RotateAID = "3d5f7a9b-1c3e-4a5b-9d7f-1b3d5f7a9c1e"
	RotateB   = "alias/dynacrypt-rotate-b"
	// The error test disables Disabled; nothing else may use it.
	Disabled   = "alias/dynacrypt-disabled"
	DisabledID = "5a7c9e1b-3d5f-4a7c-9e1b-3d5f7a9c1e3b"
	// The key store's error test (package keystore) disables
	// KeystoreDisabled; nothing else may use it.
	KeystoreDisabled   = "alias/dynacrypt-keystore-disabled"
	KeystoreDisabledID = "7c9e1b3d-5f7a-4c9e-8b3d-5f7a9c1e3b5d"

	// The key IDs behind KeyA and KeyB.
	KeyAID = "6f1a3c52-7d1e-4f0b-9a0e-2b8c1d4e5f60"
	KeyBID = "0b7e9d2c-4a6f-4e1b-8c3d-5f7a9b1c3d5e"
)

// The account and region with-servers.sh gives local-kms.
const (
	Account = "111122223333"
	Region  = "us-east-1"
)

// KeyARN returns the ARN of the local-kms key with the given key ID.
func KeyARN(keyID string) string { return "arn:aws:kms:" + Region + ":" + Account + ":key/" + keyID }

// AliasARN returns the ARN of a local-kms alias ("alias/name").
func AliasARN(alias string) string { return "arn:aws:kms:" + Region + ":" + Account + ":" + alias }

// require skips or fails tb unless envVar names a server. throttle.go
// calls it before building its clients from loadConfig.
func require(tb testing.TB, envVar, server string) {
	tb.Helper()
	testenv.Endpoint(tb, envVar, server)
}

func loadConfig(tb testing.TB) aws.Config {
	tb.Helper()
	return testenv.Config(tb)
}

// DynamoDB returns a client for the configured DynamoDB endpoint.
func DynamoDB(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	return testenv.DynamoDB(tb)
}

// Counter counts the HTTP requests a client sends.
type Counter struct {
	n    atomic.Int64
	next http.RoundTripper
}

// RoundTrip counts and forwards a request.
func (c *Counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// Requests returns how many requests were sent.
func (c *Counter) Requests() int64 { return c.n.Load() }

// KMS returns a client for the configured KMS endpoint and a counter of the
// requests it sends.
func KMS(tb testing.TB) (*kms.Client, *Counter) {
	tb.Helper()
	counter := &Counter{next: awshttp.NewBuildableClient().GetTransport()}
	client := testenv.KMS(tb, func(o *kms.Options) {
		o.HTTPClient = &http.Client{Transport: counter}
	})
	return client, counter
}
