package dynacrypt_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Values an attacker wrote reach decoders before, or without, any
// verification: unsigned attributes, SkipDecryption reads, legacy items,
// forged headers handed to the Cipher. None may make a Store panic, least of
// all in its worker goroutines, where a panic ends the process.

// hashedDoc has a fixed-size byte array, which attributevalue panics on when
// the stored binary value has another length (reflect.Value.SetLen on an
// array, attributevalue decode.go decodeBinary).
type hashedDoc struct {
	ID     string  `dynamodbav:"id"`
	Token  string  `dynamodbav:"token" encrypt:"kms"`
	Digest [4]byte `dynamodbav:"digest"`
	Note   string  `dynamodbav:"note"`
}

// wantNoPanic runs fn and fails the test if it panics.
func wantNoPanic(t *testing.T, what string, fn func() error) (panicked bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
			panicked = true
		}
	}()
	err := fn()
	t.Logf("%s: %v", what, err)
	return false
}

// TestWrongLengthByteArrayDoesNotPanic: someone who writes the table stores
// a binary value of the wrong length where a [4]byte field reads from, in
// an unsigned attribute (which verified reads pass on unchecked) and in an
// item read with SkipDecryption. attributevalue.UnmarshalMap panics on such
// a value; the Store turns the panic into an error, so Get returns one
// rather than panicking in the caller.
func TestWrongLengthByteArrayDoesNotPanic(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	unsignedDigest := mustNew[hashedDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("digest"))
	plain := mustNew[hashedDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err := unsignedDigest.Put(ctx, &hashedDoc{ID: "a", Token: "t", Digest: [4]byte{1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	if err := plain.Put(ctx, &hashedDoc{ID: "b", Token: "t", Digest: [4]byte{1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		raw := rawGet(t, db, table, id)
		raw["digest"] = &types.AttributeValueMemberB{Value: []byte{9, 9, 9}}
		rawPut(t, db, table, raw)
	}
	wantNoPanic(t, "verified Get of an item whose unsigned [4]byte attribute holds 3 bytes", func() error {
		_, err := unsignedDigest.Get(ctx, hashedDoc{ID: "a"})
		return err
	})
	wantNoPanic(t, "SkipDecryption Get of an item whose [4]byte attribute holds 3 bytes", func() error {
		_, err := plain.Get(ctx, hashedDoc{ID: "b"}, dynacrypt.SkipDecryption())
		return err
	})
}

// TestWrongLengthByteArrayDoesNotCrashParallelScan: the same tampered value
// read by a Scan with Parallel(n), whose decoding runs in the Store's worker
// goroutines, where a panic would end the whole process, not just the call:
// the scan reports an error and the process lives. The scan runs in a child
// process, and the test fails if the child crashed.
func TestWrongLengthByteArrayDoesNotCrashParallelScan(t *testing.T) {
	if table := os.Getenv("DYNACRYPT_TEST_SCAN_TABLE"); table != "" {
		db := testrig.DynamoDB(t)
		s := mustNew[hashedDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
		for _, err := range s.Scan(context.Background(), dynacrypt.Parallel(2), dynacrypt.SkipDecryption()) {
			if err != nil {
				t.Logf("child: scan error: %v", err)
			}
		}
		t.Log("child: scan ended without crashing")
		return
	}
	db, table := usersTable(t)
	s := mustNew[hashedDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err := s.Put(context.Background(), &hashedDoc{ID: "a", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "a")
	raw["digest"] = &types.AttributeValueMemberB{Value: []byte{9}}
	rawPut(t, db, table, raw)

	cmd := exec.Command(os.Args[0], "-test.run=^TestWrongLengthByteArrayDoesNotCrashParallelScan$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "DYNACRYPT_TEST_SCAN_TABLE="+table)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if i := strings.Index(text, "panic:"); i >= 0 {
		end := min(len(text), i+400)
		t.Errorf("a Parallel SkipDecryption Scan over one tampered item crashed the process (%v):\n%s", err, text[i:end])
	} else if err != nil {
		t.Errorf("child failed without a panic: %v\n%s", err, text)
	}
}

// panickingCipher panics, with the ciphertext in its panic value, on anything
// that is not an AESCipher ciphertext.
type panickingCipher struct{ *dynacrypt.AESCipher }

func (c panickingCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	if len(ct) == 0 || ct[0] != 1 {
		panic("bad ciphertext " + hex.EncodeToString(ct))
	}
	if ct[1] == 0xff {
		var a []int
		_ = a[len(ct)] // a runtime error
	}
	return c.AESCipher.Decrypt(ctx, ct, ec)
}

// TestPanickingCipherGivesErrors: someone who writes the table forges
// headers whose wrapped keys make a (custom) Cipher panic, with the
// ciphertext in its panic value. Cipher calls run in goroutines of their
// own, so the Store recovers their panics: Get and parallel Scans report an
// error that does not quote the panic value, and the process lives. Nil and
// zero-value Ciphers are refused by New or store nothing, so no item is
// ever written in plaintext.
func TestPanickingCipherGivesErrors(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	c := panickingCipher{newAES(t)}
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c))
	if err := users.Put(ctx, &User{ID: "g", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "g")
	header := headerOf(t, raw)
	for i := 0; i < 20; i++ {
		w := append([]byte(nil), wrappedKey(header)...)
		if i%2 == 0 {
			w[0] = 2
		} else {
			w[1] = 0xff
		}
		w[len(w)-1] ^= byte(i)
		f := cloneItem(raw)
		f["id"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("p-%02d", i)}
		f[hdr] = &types.AttributeValueMemberB{Value: withWrappedKey(header, w)}
		rawPut(t, db, table, f)
	}
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c))
	errs := 0
	for _, err := range fresh.Scan(ctx, dynacrypt.Parallel(4)) {
		if err != nil {
			errs++
			if strings.Contains(err.Error(), "bad ciphertext") {
				t.Errorf("panic value quoted in the error: %v", err)
			}
		}
	}
	for i := 0; i < 20; i++ {
		_, err := fresh.Get(ctx, User{ID: fmt.Sprintf("p-%02d", i)})
		if err == nil {
			t.Errorf("forged header p-%02d read", i)
		}
	}
	// Nil and zero ciphers.
	var nilAES *dynacrypt.AESCipher
	var nilKMS *dynacrypt.KMSCipher
	for name, ci := range map[string]dynacrypt.Cipher{"nil AES": nilAES, "nil KMS": nilKMS, "zero KMS": &dynacrypt.KMSCipher{}} {
		if _, err := dynacrypt.New[User](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(ci)); err == nil {
			t.Errorf("%s accepted at New", name)
		}
	}
	zero, err := dynacrypt.New[User](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(&dynacrypt.AESCipher{}))
	if err == nil {
		err := zero.Put(ctx, &User{ID: "z", Token: "zero-secret"})
		t.Logf("zero-value AESCipher accepted at New; Put: %v", err)
		if err == nil {
			t.Errorf("zero-value AESCipher stored an item")
		}
	}
}
