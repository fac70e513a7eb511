package dynacrypttest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// keyState returns the state of a KMS key.
func keyState(t *testing.T, client *kms.Client, keyID string) kmstypes.KeyState {
	t.Helper()
	out, err := client.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: &keyID})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

// TestKMSKey: each call makes a key of its own, which a KMSCipher uses, and
// which is pending deletion once its test ends.
func TestKMSKey(t *testing.T) {
	ctx := context.Background()
	var arns []string
	t.Run("made", func(t *testing.T) {
		client, arn := dynacrypttest.KMSKey(t)
		_, other := dynacrypttest.KMSKey(t)
		arns = append(arns, arn, other)
		if !strings.HasPrefix(arn, "arn:aws:kms:") || arn == other {
			t.Fatalf("keys %q and %q; want two key ARNs", arn, other)
		}
		if s := keyState(t, client, arn); s != kmstypes.KeyStateEnabled {
			t.Errorf("state %s", s)
		}
		ec := map[string]string{dynacrypt.TableContextKey: "notes"}
		wrapped, err := dynacrypt.NewKMSCipher(client, arn).Encrypt(ctx, make([]byte, 32), ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dynacrypt.NewKMSCipher(client, other).Decrypt(ctx, wrapped, ec); err == nil {
			t.Errorf("another test key decrypted what the first wrapped")
		}
		if _, err := dynacrypt.NewKMSCipher(client, arn).Decrypt(ctx, wrapped, ec); err != nil {
			t.Errorf("the key decrypts nothing it wrapped: %v", err)
		}
	})
	client := dynacrypttest.KMS(t)
	for _, arn := range arns {
		if s := keyState(t, client, arn); s != kmstypes.KeyStatePendingDeletion {
			t.Errorf("key %s after its test: %s; want %s", arn, s, kmstypes.KeyStatePendingDeletion)
		}
	}
}

// TestKMSKeyWithoutServer: like KMS, KMSKey skips a test when
// AWS_ENDPOINT_URL_KMS is unset, and fails it under CI.
func TestKMSKeyWithoutServer(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			env(t, "", "us-east-1", ci)
			o := run(t, func(tb testing.TB) { dynacrypttest.KMSKey(tb) })
			if o.skipped != (ci == "") || o.failed != (ci != "") || !strings.Contains(o.msg, "AWS_ENDPOINT_URL_KMS") {
				t.Errorf("skipped %v, failed %v, %q", o.skipped, o.failed, o.msg)
			}
		})
	}
}

// tableGone reports whether a table is deleted or being deleted.
func tableGone(t *testing.T, db *dynamodb.Client, name string) bool {
	t.Helper()
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
	var rnf *types.ResourceNotFoundException
	return errors.As(err, &rnf) || err == nil && out.Table.TableStatus == types.TableStatusDeleting
}

// TestNewKeyStore: a key store over a fresh table, under the key given or
// under a fresh one, whose branch keys serve a Cipher; its table is gone and
// its fresh key pending deletion when the test ends.
func TestNewKeyStore(t *testing.T) {
	ctx := context.Background()
	db, kmsClient := dynacrypttest.DynamoDB(t), dynacrypttest.KMS(t)
	var tables, made []string
	for _, given := range []bool{true, false} {
		t.Run(map[bool]string{true: "given key", false: "fresh key"}[given], func(t *testing.T) {
			var keyID string
			if given {
				_, keyID = dynacrypttest.KMSKey(t)
			}
			ks := dynacrypttest.NewKeyStore(t, db, kmsClient, keyID)
			tables = append(tables, ks.Table())
			switch {
			case given && ks.KMSKeyID() != keyID:
				t.Errorf("KMS key %s, want %s", ks.KMSKeyID(), keyID)
			case !given:
				if s := keyState(t, kmsClient, ks.KMSKeyID()); s != kmstypes.KeyStateEnabled {
					t.Errorf("fresh key %q: %s", ks.KMSKeyID(), s)
				}
				made = append(made, ks.KMSKeyID())
			}
			if _, err := ks.Create(ctx, "tenant-a"); err != nil {
				t.Fatal(err)
			}
			cipher, err := keystore.NewCipher(ks, "tenant-a")
			if err != nil {
				t.Fatal(err)
			}
			ec := map[string]string{dynacrypt.TableContextKey: "notes"}
			wrapped, err := cipher.Encrypt(ctx, make([]byte, keystore.KeySize), ec)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cipher.Decrypt(ctx, wrapped, ec); err != nil {
				t.Fatal(err)
			}
		})
	}
	if len(tables) != 2 || tables[0] == tables[1] {
		t.Fatalf("tables %q; want two", tables)
	}
	for _, name := range tables {
		if !tableGone(t, db, name) {
			t.Errorf("table %s still there after its test", name)
		}
	}
	for _, arn := range made {
		if s := keyState(t, kmsClient, arn); s != kmstypes.KeyStatePendingDeletion {
			t.Errorf("fresh key %s after its test: %s", arn, s)
		}
	}
}

// TestNewKeyStoreCannotMakeKey: without a key, a KMS client that cannot
// create one fails the test, saying why.
func TestNewKeyStoreCannotMakeKey(t *testing.T) {
	db := dynacrypttest.DynamoDB(t)
	decryptOnly := struct{ dynacrypt.KMSClient }{dynacrypttest.KMS(t)}
	o := run(t, func(tb testing.TB) { dynacrypttest.NewKeyStore(tb, db, decryptOnly, "") })
	if !o.failed || !strings.Contains(o.msg, "KeyMaker") {
		t.Errorf("failed %v, %q; want a failure naming KeyMaker", o.failed, o.msg)
	}
}
