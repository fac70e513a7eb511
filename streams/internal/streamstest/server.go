package streamstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// GetRecordsClient returns a DynamoDB Streams client whose GetRecords
// answers with records, from a server on loopback that stops when the test
// ends. The records go through the SDK's own decoding of the response, as
// records from the service do.
func GetRecordsClient(tb testing.TB, records ...Record) *dynamodbstreams.Client {
	tb.Helper()
	body := GetRecordsOutput(records...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if target := r.Header.Get("X-Amz-Target"); target != "DynamoDBStreams_20120810.GetRecords" {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	return dynamodbstreams.New(dynamodbstreams.Options{
		Region:       Region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
	})
}
