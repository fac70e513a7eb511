package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// service is the users service's side of the test: its Store writes users
// to dynalite, and put returns each as stored, which is what the stream's
// images hold.
type service struct {
	t     *testing.T
	db    *dynamodb.Client
	users *dynacrypt.Store[User]
}

func newService(t *testing.T) *service {
	db := dynacrypttest.DynamoDB(t)
	users := dynacrypttest.NewStore[User](t, db, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypttest.NewCipherWithKey("users-key")))
	return &service{t, db, users}
}

func (s *service) put(u *User) map[string]types.AttributeValue {
	s.t.Helper()
	if err := s.users.Put(context.Background(), u); err != nil {
		s.t.Fatal(err)
	}
	return dynacrypttest.StoredItem(s.t, s.db, s.users, *u)
}

// watcher is the Lambda function's side: a Store of its own over the same
// table, with a Cipher of its own that has the service's key, as a
// function with kms:Decrypt on the service's KMS key has.
func (s *service) watcher() (*Watcher, *dynacrypttest.Cipher, *bytes.Buffer) {
	s.t.Helper()
	cipher := dynacrypttest.NewCipherWithKey("users-key")
	users, err := newUsers(s.db, s.users.Table(), cipher)
	if err != nil {
		s.t.Fatal(err)
	}
	var logs bytes.Buffer
	return &Watcher{Users: users, Log: slog.New(slog.NewJSONHandler(&logs, nil))}, cipher, &logs
}

// invoke calls the handler as the Lambda runtime does: with the event's
// JSON, decoded by aws-lambda-go; it returns the response's JSON.
func invoke(t *testing.T, w *Watcher, payload []byte) (string, error) {
	t.Helper()
	out, err := lambda.NewHandler(w.Handle).Invoke(context.Background(), payload)
	return string(out), err
}

// TestHandle: a batch with a creation, a token rotation, a rename, a record
// whose new image was edited, and a deletion logs the rotation and the
// edited record, nothing else, never a token, and reports no failure.
func TestHandle(t *testing.T) {
	svc := newService(t)
	ana := &User{ID: "u1", Username: "ana", Token: "first-token-of-ana"}
	created := svc.put(ana)
	ana.Token = "second-token-of-ana"
	rotated := svc.put(ana)
	ana.Username = "ana.b"
	renamed := svc.put(ana)
	bob := svc.put(&User{ID: "u2", Username: "bob", Token: "token-of-bob"})
	edited := maps.Clone(bob)
	edited["username"] = &types.AttributeValueMemberS{Value: "bob2"}
	forged := streamstest.Modify(svc.users, bob, edited)
	payload := streamstest.LambdaPayload(
		streamstest.Insert(svc.users, created),
		streamstest.Modify(svc.users, created, rotated),
		streamstest.Modify(svc.users, rotated, renamed),
		forged,
		streamstest.Remove(svc.users, renamed),
	)
	w, _, logs := svc.watcher()
	out, err := invoke(t, w, payload)
	if err != nil || out != `{"batchItemFailures":[]}` {
		t.Fatalf("response %s, %v", out, err)
	}
	got := logLines(t, logs)
	if len(got) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(got), logs)
	}
	want := map[string]any{"level": "INFO", "msg": "token rotated", "user": "u1", "from_version": 1.0, "to_version": 2.0,
		"at": streamstest.DefaultTime.Format(time.RFC3339)}
	if delete(got[0], "time"); !hasAll(got[0], want) {
		t.Errorf("first line %v, want %v", got[0], want)
	}
	want = map[string]any{"level": "ERROR", "msg": "stream record failed verification", "table": svc.users.Table(),
		"sequence_number": forged.SequenceNumber, "event": "MODIFY", "key": "u2"}
	if !hasAll(got[1], want) || !strings.Contains(got[1]["error"].(string), dynacrypt.ErrIntegrity.Error()) {
		t.Errorf("second line %v, want %v and the integrity error", got[1], want)
	}
	for _, secret := range []string{"first-token-of-ana", "second-token-of-ana", "token-of-bob"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs show a token:\n%s", logs)
		}
	}
}

// TestHandleRetry: when the Cipher cannot be reached, the first record is
// reported as a batch item failure, so that Lambda retries from it, and
// the batch ends there.
func TestHandleRetry(t *testing.T) {
	svc := newService(t)
	u := &User{ID: "u1", Username: "ana", Token: "t1"}
	v1 := svc.put(u)
	u.Token = "t2"
	v2 := svc.put(u)
	w, cipher, logs := svc.watcher()
	cipher.FailDecrypt(errors.New("KMS unreachable"))
	inserted := streamstest.Insert(svc.users, v1)
	batch := streamstest.LambdaPayload(inserted, streamstest.Modify(svc.users, v1, v2))
	out, err := invoke(t, w, batch)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	if !reflect.DeepEqual(ids, []string{inserted.SequenceNumber}) {
		t.Errorf("batch item failures %v, want the first record's sequence number", ids)
	}
	if strings.Contains(logs.String(), "token rotated") {
		t.Errorf("logged a rotation it could not see:\n%s", logs)
	}

	// Once KMS answers, the retried batch goes through.
	cipher.FailDecrypt(nil)
	if out, err := invoke(t, w, batch); err != nil || out != `{"batchItemFailures":[]}` {
		t.Errorf("retry: %s, %v", out, err)
	}
	if !strings.Contains(logs.String(), `"msg":"token rotated"`) {
		t.Errorf("the retry did not log the rotation:\n%s", logs)
	}
}

// TestHandleWrongViewType: a stream without old images fails the batch
// with an error that says what to change.
func TestHandleWrongViewType(t *testing.T) {
	svc := newService(t)
	v1 := svc.put(&User{ID: "u1", Username: "ana", Token: "t1"})
	w, _, _ := svc.watcher()
	if _, err := invoke(t, w, streamstest.LambdaPayload(streamstest.Insert(svc.users, v1, streamstest.WithViewType(streams.NewImage)))); err == nil || !strings.Contains(err.Error(), streams.NewAndOldImages) {
		t.Errorf("error %v, want one naming %s", err, streams.NewAndOldImages)
	}
}

func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func hasAll(got, want map[string]any) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
