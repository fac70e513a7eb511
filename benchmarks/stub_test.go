package benchmarks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
type stub struct {
	srv         *httptest.Server
	recording   atomic.Bool
	mu          sync.RWMutex
	items       map[string][]byte // table -> GetItem response
	kmsRequests atomic.Int64
	kmsDelay    time.Duration
}

// kmsBlobPrefix pads fake KMS ciphertexts to the size of AWS KMS blobs for a
// 32-byte plaintext (about 184 bytes).
var kmsBlobPrefix = bytes.Repeat([]byte{0xc1}, 152)

func newStub(tb testing.TB, kmsDelay time.Duration) *stub {
	s := &stub{items: map[string][]byte{}, kmsDelay: kmsDelay}
	s.recording.Store(true)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
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
		keyID := "arn:aws:kms:us-east-1:111122223333:key/bench"
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
	creds := credentials.NewStaticCredentialsProvider("bench", "bench", "")
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	ddb := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.srv.URL),
		Credentials: creds, HTTPClient: httpClient})
	k := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.srv.URL),
		Credentials: creds, HTTPClient: httpClient})
	return ddb, k
}
