package testrig

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt/internal/testenv"
)

// A Fault is what a FaultProxy does to one request.
type Fault int

const (
	// Pass forwards the request and the server's answer.
	Pass Fault = iota
	// LoseAnswer forwards the request and waits for the server's answer,
	// so that a write has committed, then resets the client's connection
	// instead of answering: the SDK sees a response error with status 0.
	LoseAnswer
	// FailAfter forwards the request and waits for the server's answer,
	// then answers 500 InternalServerError instead.
	FailAfter
	// FailBefore answers 500 InternalServerError without forwarding: the
	// server never sees the request.
	FailBefore
	// Throttle answers ProvisionedThroughputExceededException (400) without
	// forwarding: a definite answer that nothing was written.
	Throttle
)

// A Plan chooses the fault of each request from its operation ("PutItem",
// "GetItem", ...) and n, its number among the requests of that operation
// since the plan was set (1 for the first).
type Plan func(op string, n int64) Fault

// Nth is the Plan that gives fault f to the nth request of operation op.
func Nth(op string, n int64, f Fault) Plan {
	return func(o string, i int64) Fault {
		if o == op && i == n {
			return f
		}
		return Pass
	}
}

// Every is the Plan that gives fault f to every kth request of operation op.
func Every(op string, k int64, f Fault) Plan {
	return func(o string, i int64) Fault {
		if o == op && i%k == 0 {
			return f
		}
		return Pass
	}
}

// FaultProxy is an HTTP proxy on loopback in front of a DynamoDB-compatible
// server. It numbers the requests it receives, per operation, and a Plan
// chooses which of them meet a fault: an answer lost after the server
// committed, or a 500 before or after the server. Faults depend only on
// request counts, so a test's faults are the same in every run.
type FaultProxy struct {
	// URL is the proxy's address, for a client's BaseEndpoint.
	URL string

	target   string
	client   *http.Client
	mu       sync.Mutex
	plan     Plan
	between  func()
	counts   map[string]int64
	injected atomic.Int64
}

// NewFaultProxy starts a FaultProxy in front of the server at target (a
// URL) for the duration of the test. It passes every request until SetPlan.
func NewFaultProxy(tb testing.TB, target string) *FaultProxy {
	tb.Helper()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	p := &FaultProxy{target: strings.TrimSuffix(target, "/"), client: &http.Client{Transport: transport}, counts: map[string]int64{}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	p.URL = srv.URL
	return p
}

// FaultyDynamoDB returns a client for the configured DynamoDB endpoint whose
// requests pass through a FaultProxy. The client's standard retryer makes
// up to maxAttempts attempts per call, as for ThrottledDynamoDB.
func FaultyDynamoDB(tb testing.TB, maxAttempts int) (*dynamodb.Client, *FaultProxy) {
	tb.Helper()
	p := NewFaultProxy(tb, testenv.Endpoint(tb, testenv.DynamoDBVar, "a DynamoDB-compatible server"))
	return p.Client(maxAttempts), p
}

// Client returns a DynamoDB client that talks to the proxy, with dummy
// credentials (local servers accept any) and the SDK's standard retryer
// making up to maxAttempts attempts per call.
func (p *FaultProxy) Client(maxAttempts int) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testrig", "testrig", ""),
		BaseEndpoint: aws.String(p.URL),
		Retryer:      retryer(maxAttempts),
	})
}

// SetPlan replaces the plan and restarts the request counts; nil passes
// every request.
func (p *FaultProxy) SetPlan(plan Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan = plan
	p.counts = map[string]int64{}
}

// Between sets a function to run after each faulted request was forwarded
// (for FailBefore and Throttle, instead) and before its client gets an
// answer: a test can write to the table there, as another writer does
// between a lost answer and the SDK's retry. nil removes it.
func (p *FaultProxy) Between(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.between = fn
}

// Injected returns how many faults the proxy injected so far.
func (p *FaultProxy) Injected() int64 { return p.injected.Load() }

// faultOf numbers a request of operation op and returns its fault, and
// what runs between.
func (p *FaultProxy) faultOf(op string) (Fault, func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[op]++
	if p.plan == nil {
		return Pass, nil
	}
	f := p.plan(op, p.counts[op])
	if f == Pass || p.between == nil {
		return f, func() {}
	}
	return f, p.between
}

// internalError is DynamoDB's answer to a request it failed on its side.
const internalError = `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error (injected by testrig)"}`

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	// X-Amz-Target is "DynamoDB_20120810.PutItem".
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	fault, between := p.faultOf(op)
	if fault != Pass {
		p.injected.Add(1)
	}
	switch fault {
	case FailBefore:
		between()
		answer(w, http.StatusInternalServerError, internalError)
		return
	case Throttle:
		between()
		answer(w, http.StatusBadRequest, dynamoThrottled)
		return
	}
	resp, err := p.forward(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if fault != Pass {
		between()
	}
	switch fault {
	case LoseAnswer:
		resetConnection(w)
	case FailAfter:
		answer(w, http.StatusInternalServerError, internalError)
	default:
		for name, values := range resp.header {
			w.Header()[name] = values
		}
		w.WriteHeader(resp.status)
		w.Write(resp.body)
	}
}

// response is a server's answer, read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// forward sends the request to the server and reads its whole answer, so
// that the server is done with it whatever the client then gets.
func (p *FaultProxy) forward(r *http.Request, body []byte) (*response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host // the host the client signed
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "faulted-by-testrig")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// resetConnection closes the client's connection with a TCP reset, before
// any byte of an answer.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("testrig: the fault proxy cannot take over the connection: " + err.Error())
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}
