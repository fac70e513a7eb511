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

// hashedDoc has a fixed-size byte array, which attributevalue panics on when
// the stored binary value has another length (reflect.Value.SetLen on an
// array, attributevalue decode.go decodeBinary).
type hashedDoc struct {
	ID     string  `dynamodbav:"id"`
	Token  string  `dynamodbav:"token" encrypt:"kms"`
	Digest [4]byte `dynamodbav:"digest"`
	Note   string  `dynamodbav:"note"`
}

func wantNoPanic(t *testing.T, what string, fn func() error) (panicked bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("HOLE (crash): %s panicked: %v", what, r)
			panicked = true
		}
	}()
	err := fn()
	t.Logf("%s: %v", what, err)
	return false
}

// TestWrongLengthByteArrayDoesNotPanic (crash). Attacker-written values reach
// attributevalue.UnmarshalMap unverified through unsigned attributes (on
// every verified read), SkipDecryption reads and legacy items. A binary value
// of the wrong length for a [N]byte field makes UnmarshalMap panic, and the
// Store does not recover it: Get panics in the caller.
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

// TestWrongLengthByteArrayDoesNotCrashParallelScan (crash). Same as above, in a
// Scan with Parallel(n): decoding runs in the Store's worker goroutines, so
// the panic ends the whole process, not just the call. Runs the scan in a
// child process and fails if the child crashed.
func TestWrongLengthByteArrayDoesNotCrashParallelScan(t *testing.T) {
	if table := os.Getenv("REDTEAM_CHILD_TABLE"); table != "" {
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
	cmd.Env = append(os.Environ(), "REDTEAM_CHILD_TABLE="+table)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if i := strings.Index(text, "panic:"); i >= 0 {
		end := min(len(text), i+400)
		t.Errorf("HOLE (crash): a Parallel SkipDecryption Scan over one tampered item crashed the process (%v):\n%s", err, text[i:end])
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

// TestPanickingCipherGivesErrors (claim 8): forged headers that make the Cipher
// panic, read in parallel scans (worker goroutines), give errors, not a
// crash; nil and zero-value ciphers never store plaintext.
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
