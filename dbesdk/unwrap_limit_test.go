package dbesdk_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
)

// limitedStore returns a Store of the 0x6700 suite over kr under an unwrap
// limit of burst per hour, and a sealed item.
func limitedStore(t *testing.T, kr *dbesdk.Keyring, burst int) (*dynacrypt.Store[User], map[string]types.AttributeValue) {
	t.Helper()
	store := mustNew[User](t, unusedDB{}, "users", dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithUnwrapLimit(burst, time.Hour), dbesdk.Format(kr, dbesdk.WithSuite(dbesdk.SuiteSymSig)))
	return store, rawItem(t, store, &User{ID: "u1", Username: "ana", Token: "secret"})
}

// forgeries returns n copies of item, each with another byte of its
// ciphertext flipped: forgeries that carry the item's genuine encrypted
// data key, which unwraps.
func forgeries(item map[string]types.AttributeValue, n int) []map[string]types.AttributeValue {
	out := make([]map[string]types.AttributeValue, n)
	ct := item["token"].(*types.AttributeValueMemberB).Value
	for i := range out {
		b := bytes.Clone(ct)
		b[i%len(ct)] ^= byte(1 + i/len(ct))
		out[i] = withB(item, "token", b)
	}
	return out
}

// TestForgedDBESDKItemsBoundedByUnwrapLimit: a keyring that calls a key
// service for every item (AWS KMS's) would make a request per forged item
// read; WithUnwrapLimit bounds them as it bounds forged dynacrypt headers.
// Forgeries that carry a genuine encrypted data key unwrap, keep their
// place until the item fails, and use it up: of 20, burst cost an unwrap,
// the rest are refused with ErrUnwrapLimited and cost none.
func TestForgedDBESDKItemsBoundedByUnwrapLimit(t *testing.T) {
	remote, kr := newRemote(t, newKey(t))
	store, item := limitedStore(t, kr, 3)
	ctx := context.Background()
	limited := 0
	for _, f := range forgeries(item, 20) {
		_, err := store.UnmarshalItem(ctx, f)
		switch {
		case errors.Is(err, dynacrypt.ErrUnwrapLimited):
			limited++
		case !errors.Is(err, dynacrypt.ErrIntegrity):
			t.Fatalf("a forgery: %v, want ErrIntegrity or ErrUnwrapLimited", err)
		}
	}
	if n := remote.unwraps.Load(); n != 3 || limited != 17 {
		t.Fatalf("20 forgeries under a limit of 3: %d unwraps, %d limited; want 3 and 17", n, limited)
	}
}

// TestForgedEncryptedDataKeyRemembered: an encrypted data key that does
// not unwrap is remembered as invalid: the same forgery read again is
// refused without asking the keyring.
func TestForgedEncryptedDataKeyRemembered(t *testing.T) {
	remote, kr := newRemote(t, newKey(t))
	store, item := limitedStore(t, kr, 5)
	h, err := structure.ParseHeader(item["aws_dbe_head"].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	h.EDKs[0].Ciphertext[0] ^= 1
	head, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	forged := withB(item, "aws_dbe_head", head)
	ctx := context.Background()
	for range 3 {
		if _, err := store.UnmarshalItem(ctx, forged); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("a forged encrypted data key: %v, want ErrIntegrity", err)
		}
	}
	if n := remote.unwraps.Load(); n != 1 {
		t.Fatalf("the same forged data key read 3 times: %d unwraps, want 1", n)
	}
}

// localRefusal is a keyring error that says it cost no key service call.
type localRefusal struct{ error }

func (localRefusal) Local() bool { return true }

// TestFreeUnwrapsNotLimited: unwraps that make no key service request
// are not limited, so forgeries cannot stop them: those of a local keyring
// (raw AES), and refusals a keyring marks Local.
func TestFreeUnwrapsNotLimited(t *testing.T) {
	ctx := context.Background()
	store, item := limitedStore(t, rawAES(t, newKey(t)), 1)
	for _, f := range forgeries(item, 20) {
		if _, err := store.UnmarshalItem(ctx, f); !errors.Is(err, dynacrypt.ErrIntegrity) || errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			t.Fatalf("a forgery under a local keyring: %v, want ErrIntegrity, not limited", err)
		}
	}
	if _, err := store.UnmarshalItem(ctx, item); err != nil {
		t.Fatalf("the genuine item after 20 forgeries: %v", err)
	}

	remote, kr := newRemote(t, newKey(t))
	store, item = limitedStore(t, kr, 1)
	remote.fail = localRefusal{errors.New("no encrypted data key is for this keyring's keys")}
	for range 10 {
		if _, err := store.UnmarshalItem(ctx, item); err == nil || errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			t.Fatalf("a local refusal: %v, want the keyring's error, not limited", err)
		}
	}
	remote.fail = errors.New("throttled")
	for range 2 {
		_, err := store.UnmarshalItem(ctx, item)
		if err == nil {
			t.Fatal("a failing keyring: no error")
		}
	}
	remote.fail = nil
	if _, err := store.UnmarshalItem(ctx, item); !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
		t.Fatalf("after a failure that cost a request, under a limit of 1: %v, want ErrUnwrapLimited", err)
	}
	if n := remote.unwraps.Load(); n != 11 {
		t.Fatalf("%d unwraps, want 11: 10 local refusals, then one failure before the limit", n)
	}
}
