package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
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

// TestErrorKinds goes through every way a Store call fails and checks the
// error: an *OpError naming the operation and table, its Kind, errors.Is for
// the kind, errors.As for the cause underneath, one "dynacrypt:" prefix, and
// no plaintext of an encrypted field.
func TestErrorKinds(t *testing.T) {
	const secret = "tok-SECRET-8c1f"
	ctx := context.Background()
	db, table := usersTable(t)
	k, _ := testrig.KMS(t)
	aesKey := newAES(t)
	opts := func(c dynacrypt.Cipher, more ...dynacrypt.Option) []dynacrypt.Option {
		return append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
			dynacrypt.WithCipher(c)}, more...)
	}
	users := mustNew[User](t, db, table, opts(aesKey)...)
	put := func(s *dynacrypt.Store[User], id string) {
		t.Helper()
		if err := s.Put(ctx, &User{ID: id, Username: "ana", Token: secret}); err != nil {
			t.Fatal(err)
		}
	}
	put(users, "u")
	put(users, "u2")
	// Cursors, taken while every item verifies.
	page, err := users.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	expiring := mustNew[User](t, db, table, opts(aesKey, dynacrypt.WithCursorTTL(time.Nanosecond))...)
	expired, err := expiring.ScanPage(ctx, "", 1)
	if err != nil || expired.Next == "" {
		t.Fatal(expired, err)
	}
	put(users, "tampered")
	raw := rawGet(t, db, table, "tampered")
	raw["username"] = &types.AttributeValueMemberS{Value: "eve"}
	rawPut(t, db, table, raw)
	put(users, "headerless")
	raw = rawGet(t, db, table, "headerless")
	delete(raw, hdr)
	rawPut(t, db, table, raw)
	viaKMS := mustNew[User](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.KeyA))...)
	put(viaKMS, "kms")
	raw = rawGet(t, db, table, "kms")
	wrapped := raw[hdr].(*types.AttributeValueMemberB).Value
	wrapped[len(wrapped)-40] ^= 1 // inside the KMS blob
	rawPut(t, db, table, raw)
	disabledKey := mustNew[User](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.Disabled))...)
	put(disabledKey, "disabled")
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(testrig.DisabledID)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.EnableKey(context.Background(), &kms.EnableKeyInput{KeyId: aws.String(testrig.DisabledID)}) })
	freshDisabled := mustNew[User](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.Disabled))...)
	throttledDB, throttle := testrig.ThrottledDynamoDB(t, 2)
	throttled := mustNew[User](t, throttledDB, table, opts(aesKey)...)
	limited := mustNew[User](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.KeyA), dynacrypt.WithUnwrapLimit(1, time.Hour))...)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	var (
		ccf      *types.ConditionalCheckFailedException
		invalid  *kmstypes.InvalidCiphertextException
		disabled *kmstypes.DisabledException
		ptee     *types.ProvisionedThroughputExceededException
		apiErr   smithy.APIError
	)
	get := func(s *dynacrypt.Store[User], id string) error {
		_, err := s.Get(ctx, User{ID: id}, dynacrypt.ConsistentRead())
		return err
	}
	for _, tc := range []struct {
		name string
		op   string
		err  func() error
		kind error // nil: none of the kinds
		as   any   // a pointer to what errors.As must find, if set
		says string
	}{
		{"missing item", "Get", func() error { return get(users, "nobody") }, dynacrypt.ErrNotFound, nil, "item not found"},
		{"create of an existing item", "Put", func() error { return users.Put(ctx, &User{ID: "u", Token: secret}) }, dynacrypt.ErrExists, &ccf, "conflict: item exists"},
		{"stale version", "Put", func() error { return users.Put(ctx, &User{ID: "u", Token: secret, Version: 7}) }, dynacrypt.ErrStale, &ccf, "conflict: stale version"},
		{"stale delete", "Delete", func() error { return users.Delete(ctx, User{ID: "u", Version: 7}) }, dynacrypt.ErrStale, &ccf, "conflict: stale version"},
		{"versioned delete of a gone item", "Delete", func() error { return users.Delete(ctx, User{ID: "nobody", Version: 7}) }, dynacrypt.ErrNotFound, &ccf, "conflict: item not found"},
		{"tampered attribute", "Get", func() error { return get(users, "tampered") }, dynacrypt.ErrIntegrity, nil, "signature does not match"},
		{"header removed", "Get", func() error { return get(users, "headerless") }, dynacrypt.ErrIntegrity, nil, "no _dynacrypt header"},
		{"wrong AES key", "Get", func() error { return get(mustNew[User](t, db, table, opts(newAES(t))...), "u") }, dynacrypt.ErrIntegrity, nil, "does not authenticate"},
		{"altered KMS blob", "Get", func() error { return get(viaKMS, "kms") }, dynacrypt.ErrIntegrity, &invalid, "InvalidCiphertext"},
		{"disabled key", "Get", func() error { return get(freshDisabled, "disabled") }, nil, &disabled, "Disabled"},
		{"throttled", "Get", func() error { throttle.Throttle(2); return get(throttled, "u") }, nil, &ptee, "ProvisionedThroughputExceeded"},
		{"cancelled context", "Get", func() error { _, err := users.Get(cancelled, User{ID: "u"}); return err }, nil, nil, "context canceled"},
		{"forged cursor", "Scan", func() error { _, err := users.ScanPage(ctx, editedCursor(page.Next), 1); return err }, dynacrypt.ErrInvalidCursor, nil, "invalid cursor"},
		{"expired cursor", "Scan", func() error { _, err := expiring.ScanPage(ctx, expired.Next, 1); return err }, dynacrypt.ErrInvalidCursor, nil, "expired"},
		{"unwrap limit", "Get", func() error { get(limited, "kms"); return get(limited, "disabled") }, dynacrypt.ErrUnwrapLimited, nil, "too many invalid"},
		{"oversized item", "Put", func() error { return users.Put(ctx, &User{ID: "big", Token: secret + strings.Repeat("x", 410_000)}) }, nil, &apiErr, "ValidationException"},
		{"invalid UTF-8", "Put", func() error { return users.Put(ctx, &User{ID: "utf8", Username: "an\xffa", Token: secret}) }, nil, nil, `attribute "username": string is not valid UTF-8`},
		{"empty key", "Put", func() error { return users.Put(ctx, &User{Token: secret}) }, nil, nil, `key attribute "id"`},
		{"missing table", "Put", func() error {
			return mustNew[User](t, db, "no-such-table", opts(aesKey)...).Put(ctx, &User{ID: "u", Token: secret})
		}, nil, new(*types.ResourceNotFoundException), "ResourceNotFound"},
	} {
		err := tc.err()
		var oe *dynacrypt.OpError
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
			continue
		case !errors.As(err, &oe) || oe.Op != tc.op || (oe.Table != table && oe.Table != "no-such-table"):
			t.Errorf("%s: %#v, want an *OpError for %s on the table", tc.name, err, tc.op)
		case oe.Kind != tc.kind:
			t.Errorf("%s: Kind %v, want %v (%v)", tc.name, oe.Kind, tc.kind, err)
		case tc.kind != nil && !errors.Is(err, tc.kind):
			t.Errorf("%s: errors.Is(err, %v) is false", tc.name, tc.kind)
		case tc.as != nil && !errors.As(err, tc.as):
			t.Errorf("%s: errors.As finds no %T in %v", tc.name, tc.as, err)
		case strings.Count(err.Error(), "dynacrypt:") != 1:
			t.Errorf("%s: %q has not exactly one dynacrypt: prefix", tc.name, err)
		case strings.Contains(err.Error(), "SECRET"):
			t.Errorf("%s: %q shows plaintext", tc.name, err)
		case !strings.Contains(err.Error(), tc.says):
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.says)
		}
	}
	for _, id := range []string{"big", "utf8"} {
		if err := get(users, id); !errors.Is(err, dynacrypt.ErrNotFound) {
			t.Errorf("after the failed Put of %q: %v, want ErrNotFound (nothing written)", id, err)
		}
	}
}

// TestRedactedUnmarshalErrors: decrypted data that does not fit the type
// gives an unmarshal error that would quote it, so its text is withheld.
func TestRedactedUnmarshalErrors(t *testing.T) {
	const secret = "tok-SECRET-8c1f"
	ctx := context.Background()
	db, table := usersTable(t)
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
	_, err := reader.Get(ctx, Typed{ID: "typed"}, dynacrypt.ConsistentRead())
	var ute *attributevalue.UnmarshalTypeError
	if !errors.As(err, &ute) || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "withheld") {
		t.Errorf("type mismatch: %v; want a wrapped attributevalue error with its text withheld", err)
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

// editedCursor returns cursor with one character of its salt changed (to
// another character, whatever the salt drew).
func editedCursor(cursor string) string {
	c := byte('A')
	if cursor[20] == c {
		c = 'B'
	}
	return cursor[:20] + string(c) + cursor[21:]
}

// wideSecrets and narrowSecrets are two types of one item: a secret number
// too large for narrowSecrets' int8, a string where it wants a map.
type wideSecrets struct {
	ID     string `dynamodbav:"id"`
	Secret int64  `dynamodbav:"secret" encrypt:"kms"`
	Card   string `dynamodbav:"card" encrypt:"kms"`
}

type narrowSecrets struct {
	ID     string          `dynamodbav:"id"`
	Secret int8            `dynamodbav:"secret" encrypt:"kms"`
	Card   map[int]float64 `dynamodbav:"card" encrypt:"kms"`
}

// TestErrorsNeverQuotePlaintext: errors end up in logs that people without
// decrypt rights read. A decrypted value that does not fit its field, and
// invalid UTF-8 in an encrypted field refused by Put, BatchPut or TxPut,
// give errors that do not quote the secret.
func TestErrorsNeverQuotePlaintext(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	wide := mustNew[wideSecrets](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	narrow := mustNew[narrowSecrets](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	const secretNum = 918273645546372819
	if err := wide.Put(ctx, &wideSecrets{ID: "w", Secret: secretNum, Card: "4111-SECRET-CARD"}); err != nil {
		t.Fatal(err)
	}
	_, err := narrow.Get(ctx, narrowSecrets{ID: "w"})
	if err == nil {
		t.Fatal("narrow read succeeded")
	}
	if s := err.Error(); strings.Contains(s, fmt.Sprint(secretNum)) || strings.Contains(s, "SECRET") {
		t.Errorf("error quotes the plaintext: %v", err)
	}
	err = wide.Put(ctx, &wideSecrets{ID: "u", Card: "SECRET-\xff\xfe-MARKER"})
	if err == nil || strings.Contains(err.Error(), "MARKER") {
		t.Errorf("invalid UTF-8 in an encrypted field: %v", err)
	}
	var items []*User
	for _, v := range []string{"SECRET\xffMARKER"} {
		items = append(items, &User{ID: "b1", Token: v})
	}
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err := users.BatchPut(ctx, items); err == nil || strings.Contains(err.Error(), "MARKER") {
		t.Errorf("BatchPut with invalid UTF-8: %v", err)
	}
	if err := dynacrypt.Transact(ctx, db, users.TxPut(items[0])); err == nil || strings.Contains(err.Error(), "MARKER") {
		t.Errorf("TxPut with invalid UTF-8: %v", err)
	}
	t.Logf("errors: %v", err)
}
