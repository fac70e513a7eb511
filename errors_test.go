package dynacrypt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// TestNumbersSurviveServer stores numbers in forms the server rewrites, in
// signed plaintext attributes, and checks the signature still verifies.
func TestNumbersSurviveServer(t *testing.T) {
	type Numbers struct {
		ID     string                  `dynamodbav:"id"`
		A      attributevalue.Number   `dynamodbav:"a"`
		B      attributevalue.Number   `dynamodbav:"b"`
		C      attributevalue.Number   `dynamodbav:"c"`
		D      attributevalue.Number   `dynamodbav:"d"`
		E      attributevalue.Number   `dynamodbav:"e"`
		Set    []attributevalue.Number `dynamodbav:"set,numberset"`
		Nested map[string]any          `dynamodbav:"nested"`
		Secret string                  `dynamodbav:"secret" encrypt:"kms"`
	}
	db, table := usersTable(t)
	store := mustNew[Numbers](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	ctx := context.Background()
	in := &Numbers{
		ID: "n", A: "1.50", B: "1E+2", C: "-0", D: "0.000100", E: "12345678901234567890.5",
		Set:    []attributevalue.Number{"3.0", "1E+1", "0.20"},
		Nested: map[string]any{"x": attributevalue.Number("2.50"), "list": []any{attributevalue.Number("1e0")}},
		Secret: "s",
	}
	if err := store.Put(ctx, in); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "n")
	rewritten := 0
	for attr, sent := range map[string]string{"a": "1.50", "b": "1E+2", "c": "-0", "d": "0.000100"} {
		if raw[attr].(*types.AttributeValueMemberN).Value != sent {
			rewritten++
		}
	}
	if rewritten == 0 {
		t.Log("the server stored every number as sent; the test shows less than it could")
	}
	got, err := store.Get(ctx, Numbers{ID: "n"}, dynacrypt.ConsistentRead())
	if err != nil {
		t.Fatalf("numbers rewritten by the server (%d of 4) fail verification: %v", rewritten, err)
	}
	for _, c := range []struct{ got, want attributevalue.Number }{
		{got.A, "1.5"}, {got.B, "100"}, {got.C, "0"}, {got.D, "0.0001"}, {got.E, "12345678901234567890.5"},
	} {
		g, _ := c.got.Float64()
		w, _ := c.want.Float64()
		if g != w {
			t.Errorf("number %q came back as %q", c.want, c.got)
		}
	}
}

// TestErrorMessages checks that failing calls name the table and operation,
// wrap the cause, and never show plaintext of an encrypted field.
func TestErrorMessages(t *testing.T) {
	const secret = "tok-SECRET-8c1f"
	db, table := usersTable(t)
	ctx := context.Background()
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(newAES(t)))
	if err := users.Put(ctx, &User{ID: "u", Username: "ana", Token: secret}); err != nil {
		t.Fatal(err)
	}

	check := func(what, op string, err error, kind error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		msg := err.Error()
		if !strings.Contains(msg, op+" "+table) {
			t.Errorf("%s: %q does not name %q and table %q", what, msg, op, table)
		}
		if strings.Contains(msg, secret) || strings.Contains(msg, "SECRET") {
			t.Errorf("%s: message contains plaintext: %q", what, msg)
		}
		if kind != nil && !errors.Is(err, kind) {
			t.Errorf("%s: %v does not wrap %v", what, err, kind)
		}
		var oe *dynacrypt.OpError
		if !errors.As(err, &oe) || oe.Op != op || oe.Table != table {
			t.Errorf("%s: not an *OpError for %s %s: %#v", what, op, table, err)
		}
	}

	err := users.Put(ctx, &User{ID: "u", Token: secret})
	check("conflicting Put", "Put", err, dynacrypt.ErrConflict)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Errorf("conflicting Put does not wrap the SDK exception: %v", err)
	}

	_, err = users.Get(ctx, User{ID: "nobody"})
	check("missing item", "Get", err, dynacrypt.ErrNotFound)

	raw := rawGet(t, db, table, "u")
	raw["username"] = &types.AttributeValueMemberS{Value: "eve"}
	rawPut(t, db, table, raw)
	_, err = users.Get(ctx, User{ID: "u"}, dynacrypt.ConsistentRead())
	check("tampered item", "Get", err, dynacrypt.ErrIntegrity)

	missingTable := mustNew[User](t, db, "no-such-table", dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	err = missingTable.Put(ctx, &User{ID: "u", Token: secret})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || !strings.Contains(err.Error(), "Put no-such-table") || strings.Contains(err.Error(), secret) {
		t.Errorf("Put to a missing table: %v", err)
	}

	// Over DynamoDB's 400 KB item limit: the server's error, wrapped, and
	// nothing stored.
	err = users.Put(ctx, &User{ID: "big", Token: secret + strings.Repeat("x", 410_000)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Errorf("oversized Put: %v, want a wrapped ValidationException", err)
	}
	check("oversized Put", "Put", err, nil)
	if _, err := users.Get(ctx, User{ID: "big"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Errorf("after an oversized Put: %v, want ErrNotFound", err)
	}

	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	_, err = users.Get(ctx2, User{ID: "u"})
	check("cancelled Get", "Get", err, context.Canceled)

	if err := users.Put(ctx, &User{ID: "", Token: secret}); err == nil || !strings.Contains(err.Error(), `"id"`) {
		t.Errorf("Put with an empty key: %v, want an error naming the key", err)
	}

	// Decrypted data that does not fit the type: the unmarshal error would
	// quote it, so its text is withheld.
	type Typed struct {
		ID    string `dynamodbav:"id"`
		Token int    `dynamodbav:"token" encrypt:"kms"`
	}
	cipher := dynacrypttest.NewCipher()
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err := writer.Put(ctx, &User{ID: "typed", Token: secret}); err != nil {
		t.Fatal(err)
	}
	reader := mustNew[Typed](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	_, err = reader.Get(ctx, Typed{ID: "typed"}, dynacrypt.ConsistentRead())
	check("type mismatch", "Get", err, nil)
	var ute *attributevalue.UnmarshalTypeError
	if !errors.As(err, &ute) {
		t.Errorf("type mismatch: %v does not wrap the attributevalue error", err)
	}
}

// TestStoredOverhead measures what encryption adds to an item.
func TestStoredOverhead(t *testing.T) {
	db, table := usersTable(t)
	ctx := context.Background()
	cipher, _ := newKMS(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	for _, token := range []string{"", "t", strings.Repeat("x", 100), strings.Repeat("y", 5000), strings.Repeat("z", 20000)} {
		if err := users.Put(ctx, &User{ID: "u", Token: token}); err != nil {
			t.Fatal(err)
		}
		raw := rawGet(t, db, table, "u")
		header := len(raw[hdr].(*types.AttributeValueMemberB).Value)
		field := len(raw["token"].(*types.AttributeValueMemberB).Value)
		if header > 256 {
			t.Errorf("header is %d bytes with a KMS key, want at most 256", header)
		}
		if over := field - len(token); over > 20 {
			t.Errorf("a %d-byte field is stored in %d bytes: %d bytes overhead, want at most 20", len(token), field, over)
		}
		t.Logf("KMS header %d bytes; %d-byte field stored in %d bytes (+%d)", header, len(token), field, field-len(token))
	}
}
