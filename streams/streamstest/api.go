package streamstest

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamsRecords returns records as the DynamoDB Streams API returns them,
// in dynamodbstreams.GetRecordsOutput.Records: a GetRecords response body,
// decoded by the SDK's own client. The response is served in memory, with
// no server and no network. It panics if an attribute value cannot be
// rendered, as LambdaPayload does, or if the SDK cannot decode the body.
func StreamsRecords(records ...Record) []streamstypes.Record {
	client := dynamodbstreams.New(dynamodbstreams.Options{
		Region:       region,
		BaseEndpoint: aws.String("http://streamstest.invalid"),
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   getRecordsResponse(getRecordsBody(records...)),
	})
	out, err := client.GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("iterator")})
	if err != nil {
		panic("streamstest: decoding the GetRecords response: " + err.Error())
	}
	return out.Records
}

// getRecordsResponse answers every request with body, as a GetRecords
// response.
type getRecordsResponse []byte

func (body getRecordsResponse) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}
