package benchmarks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// keyedTable is a table the stub keeps item by item: PutItem stores the item
// under its key, GetItem returns the item stored under the key asked for, or
// none. It is what the fleet needs and no more: the one condition the key
// store's writes use, attribute_not_exists, is honoured; any other condition,
// and any other operation, is refused, so that a scenario that needed more
// fails rather than being served wrongly.
type keyedTable struct {
	keyAttrs []string
	rows     map[string][]byte // key -> GetItem response body, under stub.mu
	gets     atomic.Int64      // GetItem requests
}

// keyTable makes the stub keep table item by item under the key attributes
// named (partition key, then sort key if any). From then on the stub serves
// only keyed tables: call it for each table before the first request.
func (s *stub) keyTable(table string, keyAttrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyed[table] = &keyedTable{keyAttrs: keyAttrs, rows: map[string][]byte{}}
	s.anyKeyed.Store(true)
}

// getItems returns how many GetItem requests a keyed table has answered.
func (s *stub) getItems(table string) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t := s.keyed[table]; t != nil {
		return t.gets.Load()
	}
	return 0
}

// notExists is the only condition keyed tables evaluate.
var notExists = regexp.MustCompile(`^\s*attribute_not_exists\s*\(\s*(#?\w+)\s*\)\s*$`)

// serveKeyed answers a DynamoDB request to a stub with keyed tables.
func (s *stub) serveKeyed(w http.ResponseWriter, r *http.Request, target string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		ddbError(w, "ValidationException", err.Error())
		return
	}
	s.mu.RLock()
	t := s.keyed[tableOf(body)]
	s.mu.RUnlock()
	if t == nil {
		ddbError(w, "ResourceNotFoundException", "stub: not a keyed table: "+tableOf(body))
		return
	}
	switch target {
	case "DynamoDB_20120810.PutItem":
		var in struct {
			Item                     json.RawMessage
			ConditionExpression      *string
			ExpressionAttributeNames map[string]string
		}
		if err := json.Unmarshal(body, &in); err != nil {
			ddbError(w, "ValidationException", err.Error())
			return
		}
		var attrs map[string]map[string]json.RawMessage
		if err := json.Unmarshal(in.Item, &attrs); err != nil {
			ddbError(w, "ValidationException", err.Error())
			return
		}
		key, err := t.keyOf(attrs)
		if err != nil {
			ddbError(w, "ValidationException", err.Error())
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if in.ConditionExpression != nil {
			m := notExists.FindStringSubmatch(*in.ConditionExpression)
			if m == nil {
				ddbError(w, "ValidationException", "stub: unsupported condition "+*in.ConditionExpression)
				return
			}
			// The attribute is one every stored item has (the key), or the
			// condition would say nothing about an existing item: either
			// way, an item under this key fails it.
			if _, exists := t.rows[key]; exists {
				ddbError(w, "ConditionalCheckFailedException", "The conditional request failed")
				return
			}
		}
		t.rows[key] = append(append([]byte(`{"Item":`), in.Item...), '}')
		w.Write([]byte("{}"))
	case "DynamoDB_20120810.GetItem":
		var in struct {
			Key map[string]map[string]json.RawMessage
		}
		if err := json.Unmarshal(body, &in); err != nil {
			ddbError(w, "ValidationException", err.Error())
			return
		}
		key, err := t.keyOf(in.Key)
		if err != nil {
			ddbError(w, "ValidationException", err.Error())
			return
		}
		t.gets.Add(1)
		s.mu.RLock()
		resp, ok := t.rows[key]
		s.mu.RUnlock()
		if !ok {
			resp = []byte("{}")
		}
		w.Write(resp)
	default:
		ddbError(w, "ValidationException", "stub: unsupported on a keyed table: "+target)
	}
}

// keyOf returns the string under which an item with these attributes is
// kept: the key attributes' type and value, in order.
func (t *keyedTable) keyOf(attrs map[string]map[string]json.RawMessage) (string, error) {
	var b strings.Builder
	for _, name := range t.keyAttrs {
		av, ok := attrs[name]
		if !ok || len(av) != 1 {
			return "", fmt.Errorf("key attribute %s missing or not a scalar", name)
		}
		for typ, v := range av {
			fmt.Fprintf(&b, "%s:%s\x00", typ, v)
		}
	}
	return b.String(), nil
}

// ddbError answers with a DynamoDB error of the given type, as the SDK
// expects it, so that it maps to the SDK's typed error.
func ddbError(w http.ResponseWriter, typ, message string) {
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": message})
}

// TestKeyedStub checks what the fleet relies on: items kept by key, the
// key store's attribute_not_exists honoured, other conditions refused.
func TestKeyedStub(t *testing.T) {
	ctx := context.Background()
	st := newStub(t, 0)
	st.keyTable("t", "pk", "sk")
	ddb, _ := st.directClients()
	key := func(pk, sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
	}
	put := func(pk, sk, v string, cond *string) error {
		item := key(pk, sk)
		item["v"] = &types.AttributeValueMemberS{Value: v}
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item, ConditionExpression: cond,
			ExpressionAttributeNames: map[string]string{"#pk": "pk"}})
		return err
	}
	get := func(pk, sk string) string {
		out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key(pk, sk)})
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := out.Item["v"].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	notExists := aws.String("attribute_not_exists(#pk)")
	for _, err := range []error{put("a", "1", "a1", notExists), put("a", "2", "a2", notExists), put("b", "1", "b1", nil)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var ccf *types.ConditionalCheckFailedException
	if err := put("a", "1", "again", notExists); !errors.As(err, &ccf) {
		t.Errorf("a second put under attribute_not_exists: %v, want ConditionalCheckFailedException", err)
	}
	if err := put("a", "1", "again", aws.String("attribute_exists(#pk)")); err == nil || errors.As(err, &ccf) {
		t.Errorf("an unsupported condition: %v, want a refusal", err)
	}
	for _, tc := range []struct{ pk, sk, want string }{{"a", "1", "a1"}, {"a", "2", "a2"}, {"b", "1", "b1"}, {"b", "2", ""}} {
		if got := get(tc.pk, tc.sk); got != tc.want {
			t.Errorf("get(%s, %s) = %q, want %q", tc.pk, tc.sk, got, tc.want)
		}
	}
	if n := st.getItems("t"); n != 4 {
		t.Errorf("getItems = %d, want 4", n)
	}
}
