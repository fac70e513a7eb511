package dbesdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// Reserved has a field named like DB-ESDK's attributes.
type Reserved struct {
	ID  string `dynamodbav:"id"`
	Bad string `dynamodbav:"aws_dbe_b_name"`
}

// TestUnservableConfigurationsRefusedAtNew: what the format cannot serve
// is refused by New, never met with plaintext at rest: fields named
// "aws_dbe_...", DB-ESDK's header as dynacrypt's, a nil keyring or suite
// unknown, a read-only format without a Cipher for the format the Store
// then writes, plaintext items without a Cipher to sign their manifest,
// and an encrypted field without one for a Store that writes neither.
func TestUnservableConfigurationsRefusedAtNew(t *testing.T) {
	kr := rawAES(t, newKey(t))
	key := dynacrypt.WithPartitionKey("id")
	tests := map[string]func() error{
		"field named aws_dbe_": func() error {
			_, err := dynacrypt.New[Reserved](unusedDB{}, "t", key, dbesdk.Format(kr))
			return err
		},
		"DB-ESDK's header as dynacrypt's": func() error {
			_, err := dynacrypt.New[User](unusedDB{}, "t", key, dynacrypt.WithHeaderAttribute("aws_dbe_head"), dbesdk.Format(kr))
			return err
		},
		"nil keyring": func() error {
			_, err := dynacrypt.New[User](unusedDB{}, "t", key, dbesdk.Format(nil))
			return err
		},
		"unknown suite": func() error {
			_, err := dynacrypt.New[User](unusedDB{}, "t", key, dbesdk.Format(kr, dbesdk.WithSuite(0x6702)))
			return err
		},
		"read-only without a Cipher": func() error {
			_, err := dynacrypt.New[User](unusedDB{}, "t", key, dbesdk.Format(kr, dbesdk.ReadOnly()))
			return err
		},
		"Items read-only without a Cipher": func() error {
			_, err := dynacrypt.NewItems("t", key, dynacrypt.WithEncryptedAttributes("token"), dbesdk.Format(kr, dbesdk.ReadOnly()))
			return err
		},
		"plaintext items without a Cipher to check their manifest": func() error {
			_, err := dynacrypt.New[User](unusedDB{}, "t", key, dbesdk.Format(kr), dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext))
			return err
		},
		"Items with an aws_dbe_ attribute": func() error {
			_, err := dynacrypt.NewItems("t", key, dynacrypt.WithEncryptedAttributes("aws_dbe_x"), dbesdk.Format(kr))
			return err
		},
	}
	for name, newStore := range tests {
		err := newStore()
		if err == nil {
			t.Errorf("%s: New succeeded", name)
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := dynacrypt.New[User](unusedDB{}, "t", key, dbesdk.Format(kr)); err != nil {
		t.Fatalf("a Store that writes DB-ESDK's format needs no Cipher: %v", err)
	}
}

// TestItemOfUnknownShapeRefused: a Store that writes DB-ESDK's format
// refuses stored items it cannot verify: one without a header of either
// format (plaintext), and one of dynacrypt's format when it has no Cipher
// to read it (saying so).
func TestItemOfUnknownShapeRefused(t *testing.T) {
	ctx := context.Background()
	store := mustNew[User](t, unusedDB{}, "t", dynacrypt.WithPartitionKey("id"), dbesdk.Format(rawAES(t, newKey(t))))
	plain := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u1"}, "token": &types.AttributeValueMemberS{Value: "x"}}
	if _, err := store.UnmarshalItem(ctx, plain); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("an item without a header: %v, want ErrIntegrity", err)
	}
	native := mustNew[User](t, unusedDB{}, "t", dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAESCipher(t)))
	item, err := native.MarshalItem(ctx, &User{ID: "u1", Token: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.UnmarshalItem(ctx, item); err == nil || !strings.Contains(err.Error(), "WithCipher") {
		t.Fatalf("a dynacrypt item, without a Cipher: %v, want an error naming WithCipher", err)
	}
}

// Public is User with its token not declared encrypted.
type Public struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token"`
	Version  int64  `dynamodbav:"version"`
}

// TestUndeclaredEncryptedAttributeRefused: a DB-ESDK item that encrypts an
// attribute the Store does not declare encrypted (a service whose
// configuration encrypts more) is refused, before any unwrap: DB-ESDK
// would decrypt it, and the Store would write it back in plaintext. An
// encrypted attribute that is no field of the Store's type is no such
// risk, and reads.
func TestUndeclaredEncryptedAttributeRefused(t *testing.T) {
	ctx := context.Background()
	remote, kr := newRemote(t, newKey(t))
	writer := mustNew[User](t, unusedDB{}, "users", dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dbesdk.Format(kr))
	item := rawItem(t, writer, &User{ID: "u1", Username: "ana", Token: "secret"})
	reader := mustNew[Public](t, unusedDB{}, "users", dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dbesdk.Format(kr))
	if _, err := reader.UnmarshalItem(ctx, item); !errors.Is(err, dynacrypt.ErrIntegrity) || !strings.Contains(err.Error(), "token") {
		t.Fatalf("an item that encrypts an attribute the Store signs only: %v, want ErrIntegrity naming it", err)
	}
	if n := remote.unwraps.Load(); n != 0 {
		t.Fatalf("refused after %d unwraps, want none", n)
	}
	type Narrow struct {
		ID       string `dynamodbav:"id"`
		Username string `dynamodbav:"username"`
	}
	narrow := mustNew[Narrow](t, unusedDB{}, "users", dynacrypt.WithPartitionKey("id"), dbesdk.Format(kr))
	if got, err := narrow.UnmarshalItem(ctx, item); err != nil || got.Username != "ana" {
		t.Fatalf("an encrypted attribute that is no field: %+v, %v", got, err)
	}
}
