package minidyn

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/truora/minidyn/server"
)

// newServer starts a minidyn server on loopback for one test and returns it
// with a client that talks to it over HTTP.
func newServer(t *testing.T) (*server.Server, *dynamodb.Client) {
	t.Helper()
	srv := server.NewServer()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client := dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(hs.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("minidyn", "minidyn", ""),
		RetryMaxAttempts: 2,
	})
	return srv, client
}
