package dynacrypt

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestDefiniteAnswer: which results of an attempt say what the server did,
// built as the SDK builds them (a response error around the cause, status 0
// when no response came).
func TestDefiniteAnswer(t *testing.T) {
	answered := func(status int, err error) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
	}
	sendFailed := func(err error) error {
		return answered(0, &smithyhttp.RequestSendError{Err: &url.Error{Op: "Post", URL: "http://127.0.0.1", Err: err}})
	}
	for _, tc := range []struct {
		name     string
		err      error
		definite bool
	}{
		{"success", nil, true},
		{"condition failed", answered(400, &types.ConditionalCheckFailedException{}), true},
		{"throttled", answered(400, &types.ProvisionedThroughputExceededException{}), true},
		{"500", answered(500, &smithy.GenericAPIError{Code: "InternalServerError"}), false},
		{"503", answered(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), false},
		{"connection reset after sending", sendFailed(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), false},
		{"context ended while sending", answered(0, &smithy.CanceledError{Err: context.DeadlineExceeded}), false},
		{"connection refused", sendFailed(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"an error without a response", errors.New("signing failed"), false},
	} {
		if got := definite(tc.err); got != tc.definite {
			t.Errorf("%s: definite %v, want %v", tc.name, got, tc.definite)
		}
	}
}
