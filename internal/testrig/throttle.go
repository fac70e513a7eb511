package testrig

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// Throttler sits between a client and its server. It answers the requests
// it is told to throttle as AWS answers a caller over its request quota or
// capacity, and forwards the others to the server.
type Throttler struct {
	next        http.RoundTripper
	answer      string // the error body
	contentType string
	remaining   atomic.Int64
	throttled   atomic.Int64
}

// ThrottledDynamoDB returns a client for the configured DynamoDB endpoint
// whose requests pass through a Throttler answering as DynamoDB answers a
// table over capacity: ProvisionedThroughputExceededException. The client's
// standard retryer makes up to maxAttempts attempts per call (see retryer).
func ThrottledDynamoDB(tb testing.TB, maxAttempts int) (*dynamodb.Client, *Throttler) {
	tb.Helper()
	require(tb, "AWS_ENDPOINT_URL_DYNAMODB", "a DynamoDB-compatible server")
	t := newThrottler(dynamoThrottled, "application/x-amz-json-1.0")
	return dynamodb.NewFromConfig(loadConfig(tb), func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Transport: t}
		o.Retryer = retryer(maxAttempts)
	}), t
}

// ThrottledKMS returns a client for the configured KMS endpoint whose
// requests pass through a Throttler answering as KMS answers a caller over
// its request quota: ThrottlingException.
func ThrottledKMS(tb testing.TB, maxAttempts int) (*kms.Client, *Throttler) {
	tb.Helper()
	require(tb, "AWS_ENDPOINT_URL_KMS", "local-kms")
	t := newThrottler(`{"__type":"ThrottlingException","message":"Rate exceeded"}`, "application/x-amz-json-1.1")
	return kms.NewFromConfig(loadConfig(tb), func(o *kms.Options) {
		o.HTTPClient = &http.Client{Transport: t}
		o.Retryer = retryer(maxAttempts)
	}), t
}

// dynamoThrottled is DynamoDB's answer to a request over the table's capacity.
const dynamoThrottled = `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",` +
	`"message":"The level of configured provisioned throughput for the table was exceeded."}`

func newThrottler(answer, contentType string) *Throttler {
	return &Throttler{next: awshttp.NewBuildableClient().GetTransport(), answer: answer, contentType: contentType}
}

// retryer is the SDK's standard retryer with up to maxAttempts attempts per
// call, 1 ms apart and with no retry quota, so that tests control exactly
// how many throttled answers a call survives.
func retryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = maxAttempts
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		so.RateLimiter = ratelimit.None
	})
}

// Throttle makes the Throttler answer the next n requests with
// ProvisionedThroughputExceededException (0 stops throttling).
func (t *Throttler) Throttle(n int64) { t.remaining.Store(n) }

// Throttled returns how many requests were throttled so far.
func (t *Throttler) Throttled() int64 { return t.throttled.Load() }

// take consumes one throttled answer, if any is left.
func (t *Throttler) take() bool {
	for {
		n := t.remaining.Load()
		if n <= 0 {
			return false
		}
		if t.remaining.CompareAndSwap(n, n-1) {
			t.throttled.Add(1)
			return true
		}
	}
}

// RoundTrip throttles or forwards a request.
func (t *Throttler) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.take() {
		return t.next.RoundTrip(r)
	}
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		Status:        "400 Bad Request",
		StatusCode:    http.StatusBadRequest,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {t.contentType}, "X-Amzn-Requestid": {"throttled-by-testrig"}},
		Body:          io.NopCloser(strings.NewReader(t.answer)),
		ContentLength: int64(len(t.answer)),
		Request:       r,
	}, nil
}
