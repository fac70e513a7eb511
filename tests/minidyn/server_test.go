package minidyn

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/truora/minidyn/server"

	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// newServer starts a minidyn server on loopback for one test and returns it
// with a client that talks to it over HTTP.
func newServer(t *testing.T) (*server.Server, *dynamodb.Client) {
	t.Helper()
	srv, url := startServer(t)
	client := dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("minidyn", "minidyn", ""),
		RetryMaxAttempts: 2,
	})
	return srv, client
}

// startServer starts a minidyn server on loopback for one test and returns
// it with its URL.
func startServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	srv := server.NewServer()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

// faultyServer starts a minidyn server behind a testrig.FaultProxy, and
// returns the proxy with a client that talks through it, with the SDK's
// standard retryer making up to three attempts per call.
func faultyServer(t *testing.T) (*testrig.FaultProxy, *dynamodb.Client) {
	t.Helper()
	_, url := startServer(t)
	proxy := testrig.NewFaultProxy(t, url)
	return proxy, proxy.Client(3)
}
