package dynacrypt_test

// What an attacker does to a table, its items' headers and its page cursors,
// as the tests of docs/threats.md do it: take a header or cursor apart, put
// another wrapped root key in it, race a Store's conditional write, count
// the Cipher calls a forgery costs.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// forgeryKMSBound is the most KMS requests a flood of forged headers or
// cursors may cost a process: the unwrap limit's burst for each source
// (items and cursors) and a few refills.
const forgeryKMSBound = 2*dynacrypt.DefaultUnwrapBurst + 4

// kmsValidationMax is the largest CiphertextBlob KMS Decrypt accepts.
const kmsValidationMax = 6144

// randomBytes returns n bytes from crypto/rand.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// wrappedKeyAt returns where the length of the wrapped root key is in a
// header or a cursor (both start with the signed part of a header:
// version, suite, a salt (suite 1) or nonce (suite 2), u16 length, wrapped
// key).
func wrappedKeyAt(b []byte) int {
	if b[1] == 2 {
		return 2 + 12
	}
	return 2 + 16
}

// wrappedKey returns the wrapped root key inside a header or a cursor.
func wrappedKey(b []byte) []byte {
	at := wrappedKeyAt(b)
	n := int(binary.BigEndian.Uint16(b[at:]))
	return b[at+2 : at+2+n]
}

// withWrappedKey returns a copy of a header or cursor whose wrapped root key
// is replaced by wrapped; everything after the wrapped key is kept.
func withWrappedKey(b, wrapped []byte) []byte {
	at := wrappedKeyAt(b)
	n := int(binary.BigEndian.Uint16(b[at:]))
	out := append([]byte(nil), b[:at]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	return append(out, b[at+2+n:]...)
}

// decodeCursor returns the bytes of a page cursor.
func decodeCursor(t testing.TB, c string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encodeCursor makes a page cursor of b, as a client sends it.
func encodeCursor(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// headerOf returns a copy of a stored item's header.
func headerOf(t testing.TB, item map[string]types.AttributeValue) []byte {
	t.Helper()
	h, ok := item[hdr].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("item has no header: %v", item)
	}
	return append([]byte(nil), h.Value...)
}

// shortErr returns err's text, cut to 300 bytes for the test log.
func shortErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// kmsUsers makes a users table of n items written by a Store over
// KMSCipher under key A, and returns the table and that Store.
func kmsUsers(t *testing.T, n int) (*dynamodb.Client, string, *dynacrypt.Store[User]) {
	t.Helper()
	db, table := usersTable(t)
	client, _ := testrig.KMS(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	for i := 0; i < n; i++ {
		if err := users.Put(context.Background(), &User{ID: userID(i), Username: "u", Token: "token-" + userID(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return db, table, users
}

// racingDB calls before ahead of each PutItem it passes on, so that a test
// acts, as an attacker or a concurrent writer, between a Store's read and
// its conditional write.
type racingDB struct {
	*dynamodb.Client
	before func(in *dynamodb.PutItemInput)
}

func (r *racingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if r.before != nil {
		r.before(in)
	}
	return r.Client.PutItem(ctx, in, opts...)
}

// forgeWrapped replaces the end of the KMS blob inside a header or cursor
// (its signed part starts as a header's) with random bytes: a wrapped key
// KMS will reject, different every time.
func forgeWrapped(t testing.TB, b []byte) []byte {
	t.Helper()
	b = append([]byte(nil), b...)
	at := wrappedKeyAt(b)
	n := int(b[at])<<8 | int(b[at+1])
	if _, err := rand.Read(b[at+2+n-40 : at+2+n]); err != nil {
		t.Fatal(err)
	}
	return b
}

// countingCipher counts the Decrypt calls of an AESCipher: the key service
// requests a forgery costs.
type countingCipher struct {
	*dynacrypt.AESCipher
	decrypts *atomic.Int64
}

func (c countingCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	c.decrypts.Add(1)
	return c.AESCipher.Decrypt(ctx, ct, ec)
}

// UnwrapsLocally is false: the counting cipher stands for one whose every
// Decrypt calls a key service, as KMSCipher's does, so that the limit
// applies (an AESCipher's unwraps are free, and not limited).
func (countingCipher) UnwrapsLocally([]byte) bool { return false }

// strAV returns a string attribute value.
func strAV(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// binAV returns a binary attribute value holding a copy of b.
func binAV(b []byte) *types.AttributeValueMemberB {
	return &types.AttributeValueMemberB{Value: append([]byte(nil), b...)}
}

// binOf returns the bytes of a binary attribute value.
func binOf(av types.AttributeValue) []byte { return av.(*types.AttributeValueMemberB).Value }
