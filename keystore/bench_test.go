package keystore_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/benchitem"
	"github.com/dynacrypt/dynacrypt/keystore"
)

func benchAttributes(b *testing.B) map[string]types.AttributeValue {
	av, err := attributevalue.MarshalMap(benchitem.New("user-000001"))
	if err != nil {
		b.Fatal(err)
	}
	return av
}

// benchCiphers are the Ciphers compared: a local AES key, and the key store
// Cipher over a branch key in memory (its cache warm, as in steady state).
func benchCiphers(b *testing.B) map[string]dynacrypt.Cipher {
	aes, err := dynacrypt.NewAESCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	src := newFakeSource()
	src.rotate(b, "fleet")
	ks, err := keystore.NewCipher(src, "fleet")
	if err != nil {
		b.Fatal(err)
	}
	return map[string]dynacrypt.Cipher{"aes": aes, "keystore": ks}
}

// BenchmarkItemRoundTrip seals and opens the 1 KB item, as the root
// package's BenchmarkItemRoundTrip does, with each Cipher and the Store's
// root key cached: the Cipher is not called in steady state, so the two
// should be within noise of each other (the target: 5%).
func BenchmarkItemRoundTrip(b *testing.B) {
	benchRoundTrip(b)
}

// BenchmarkItemRoundTripUncachedRoot is BenchmarkItemRoundTrip with the
// Store's root key cache off (WithoutKeyCache): every seal wraps a new root
// key and every open unwraps it, so it shows what each Cipher costs per
// call. The key store Cipher's branch key stays cached: it wraps locally,
// with one HKDF more than AESCipher.
func BenchmarkItemRoundTripUncachedRoot(b *testing.B) {
	benchRoundTrip(b, dynacrypt.WithoutKeyCache())
}

func benchRoundTrip(b *testing.B, opts ...dynacrypt.Option) {
	ctx := context.Background()
	plain := benchAttributes(b)
	for _, name := range []string{"aes", "keystore"} {
		b.Run(name, func(b *testing.B) {
			c := benchCiphers(b)[name]
			items, err := dynacrypt.NewItems("bench", append([]dynacrypt.Option{
				dynacrypt.WithPartitionKey("id"),
				dynacrypt.WithEncryptedAttributes("token", "card", "notes"),
				dynacrypt.WithCipher(c),
			}, opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				sealed, err := items.Seal(ctx, plain)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := items.Open(ctx, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWrapUnwrap wraps and unwraps one root key with each Cipher,
// branch key cached.
func BenchmarkWrapUnwrap(b *testing.B) {
	ctx := context.Background()
	ec := map[string]string{"dynacrypt-table": "bench"}
	root := bytes.Repeat([]byte{1}, 32)
	for _, name := range []string{"aes", "keystore"} {
		b.Run(name, func(b *testing.B) {
			c := benchCiphers(b)[name]
			b.ReportAllocs()
			for b.Loop() {
				w, err := c.Encrypt(ctx, root, ec)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Decrypt(ctx, w, ec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
