package benchmarks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// stub answers DynamoDB PutItem and GetItem and KMS Encrypt and Decrypt over
// HTTP with as little work as possible: PutItem is acknowledged unread,
// GetItem returns the item recorded for its table while recording was on,
// and the KMS "ciphertext" is a blob of AWS's size around the plaintext.
//
// A stub whose tables are declared with keyTable keeps them instead as a
// real table does, item by item (stub_keyed_test.go), for the scenarios in
// which what a reader gets must be what some writer put: the fleet's items
// and the key store's branch keys. The other scenarios keep the canned
// answers, so that the stub's own work weighs as little as possible in
// their CPU figures.
type stub struct {
	srv         *httptest.Server
	recording   atomic.Bool
	mu          sync.RWMutex
	items       map[string][]byte // table -> GetItem response
	keyed       map[string]*keyedTable
	anyKeyed    atomic.Bool
	kmsRequests atomic.Int64
	kmsDelay    time.Duration
}

// stubKeyARN is the key the stub's KMS answers name: an ARN with a key ID
// of KMS's form, which the key store checks.
const stubKeyARN = "arn:aws:kms:us-east-1:111122223333:key/0b1e5d4c-3a2f-4e6d-8c7b-9a0f1e2d3c4b"

// kmsBlobPrefix pads fake KMS ciphertexts to the size of AWS KMS blobs for a
// 32-byte plaintext (about 184 bytes).
var kmsBlobPrefix = bytes.Repeat([]byte{0xc1}, 152)

func newStub(tb testing.TB, kmsDelay time.Duration) *stub {
	s := &stub{items: map[string][]byte{}, keyed: map[string]*keyedTable{}, kmsDelay: kmsDelay}
	s.recording.Store(true)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if s.anyKeyed.Load() && strings.HasPrefix(target, "DynamoDB_20120810.") {
		s.serveKeyed(w, r, target)
		return
	}
	switch target {
	case "DynamoDB_20120810.PutItem":
		if s.recording.Load() {
			var in struct {
				TableName string
				Item      json.RawMessage
			}
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.mu.Lock()
			s.items[in.TableName] = append(append([]byte(`{"Item":`), in.Item...), '}')
			s.mu.Unlock()
		} else {
			io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte("{}"))
	case "DynamoDB_20120810.GetItem":
		body, _ := io.ReadAll(r.Body)
		table := tableOf(body)
		s.mu.RLock()
		resp := s.items[table]
		s.mu.RUnlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write(resp)
	case "TrentService.Encrypt", "TrentService.Decrypt":
		s.kmsRequests.Add(1)
		if s.kmsDelay > 0 {
			time.Sleep(s.kmsDelay)
		}
		var in struct {
			Plaintext, CiphertextBlob []byte
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		keyID := stubKeyARN
		if target == "TrentService.Encrypt" {
			blob := append(append([]byte(nil), kmsBlobPrefix...), in.Plaintext...)
			json.NewEncoder(w).Encode(map[string]string{"CiphertextBlob": base64.StdEncoding.EncodeToString(blob), "KeyId": keyID})
			return
		}
		plain := in.CiphertextBlob[min(len(kmsBlobPrefix), len(in.CiphertextBlob)):]
		json.NewEncoder(w).Encode(map[string]string{"Plaintext": base64.StdEncoding.EncodeToString(plain), "KeyId": keyID})
	default:
		http.Error(w, "stub: unsupported "+target, http.StatusBadRequest)
	}
}

// tableOf finds the table name in a request body without decoding it all.
func tableOf(body []byte) string {
	const key = `"TableName":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

func (s *stub) clients() (*dynamodb.Client, *kms.Client) {
	return s.clientsOver(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, false)
}

// directClients are clients whose requests the stub's handler answers in
// the calling goroutine, without a loopback connection, and which neither
// sign requests nor check the CRC32 of DynamoDB's answers: the SDK still
// builds and sends each request and parses each answer. The fleet and
// tenant scenarios make hundreds of thousands of requests; on a 2-core
// machine loopback TCP caps them near 5,000 a second, three times slower
// than this, and signing and checksums cost a third of what is left.
// What those scenarios count does not depend on any of it. The CPU
// benchmarks keep the full path (clients).
func (s *stub) directClients() (*dynamodb.Client, *kms.Client) {
	return s.clientsOver(handlerClient{http.HandlerFunc(s.serve)}, true)
}

// handlerClient is an HTTP client that hands each request to a handler.
type handlerClient struct{ h http.Handler }

func (c handlerClient) Do(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// httpDoer is the HTTP client the SDK's clients take.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// clientsOver makes the clients of the stub over httpClient; lean drops
// signing and response checksums (see directClients).
func (s *stub) clientsOver(httpClient httpDoer, lean bool) (*dynamodb.Client, *kms.Client) {
	var creds aws.CredentialsProvider = credentials.NewStaticCredentialsProvider("bench", "bench", "")
	if lean {
		creds = aws.AnonymousCredentials{}
	}
	ddb := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.srv.URL),
		Credentials: creds, HTTPClient: httpClient, DisableValidateResponseChecksum: lean})
	k := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.srv.URL),
		Credentials: creds, HTTPClient: httpClient})
	return ddb, k
}
