package dynacrypttest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dynacrypt/dynacrypt"
)

// Cipher is a fake [dynacrypt.Cipher] for tests: it needs no KMS, counts its
// calls, and fails on demand.
//
// Each Cipher has a key, and like a KMS key it reads only what was encrypted
// under that key and the same encryption context: another key gives
// [ErrWrongKey], another context [ErrContextMismatch], and a changed
// ciphertext another error; all of them wrap [dynacrypt.ErrIntegrity], as a
// real Cipher's do. So a test can check that a Store with another key cannot
// read an item or resume a cursor.
//
// The fake is NOT secret: its ciphertext holds the plaintext as it is,
// between an ID of the key and a keyed checksum (FORMAT.md, section 6), so
// never use it for real data. It is deterministic: under one key, the same
// plaintext and context always give the same ciphertext.
//
// A Cipher is safe for concurrent use. The zero value is not usable; call
// [NewCipher] or [NewCipherWithKey].
type Cipher struct {
	key        []byte
	keyID      string // names the key in ciphertexts
	encrypts   atomic.Int64
	decrypts   atomic.Int64
	mu         sync.Mutex
	encryptErr error
	decryptErr error
}

// NewCipher returns a fake Cipher with a random key of its own: it reads
// nothing that another fake wrote, as two KMS keys would. To have Ciphers
// that read each other's ciphertexts, use [NewCipherWithKey], or pass the
// same Cipher to both Stores.
func NewCipher() *Cipher { return NewCipherWithKey(rand.Text()) }

// NewCipherWithKey returns a fake Cipher with the given key. Fakes made with
// the same key read each other's ciphertexts, as two services sharing one
// KMS key do, while each counts its own calls and fails on its own demand.
// The key is any string, and it is not a secret: a fixed key also makes the
// same ciphertexts in every run, so that items a test recorded stay readable.
func NewCipherWithKey(key string) *Cipher {
	id := sha256.Sum256([]byte(key))
	return &Cipher{key: []byte(key), keyID: hex.EncodeToString(id[:8])}
}

// The ciphertext is fakePrefix, the key ID (keyIDLen hex digits), ":", the
// encoded context, "\n", the plaintext, and an HMAC-SHA-256 under the key of
// everything before it.
const (
	fakePrefix = "dynacrypttest-fake/2:"
	keyIDLen   = 16
)

// ErrWrongKey is wrapped by Decrypt's error when the ciphertext was made by
// a fake with another key. It also wraps [dynacrypt.ErrIntegrity], as the
// Cipher contract asks.
var ErrWrongKey = fmt.Errorf("%w: dynacrypttest: ciphertext made under another key", dynacrypt.ErrIntegrity)

// ErrContextMismatch is wrapped by Decrypt's error when the encryption
// context differs from the one given to Encrypt. It also wraps
// [dynacrypt.ErrIntegrity], as the Cipher contract asks.
var ErrContextMismatch = fmt.Errorf("%w: dynacrypttest: encryption context differs from the one used to encrypt", dynacrypt.ErrIntegrity)

var (
	errNotFake = fmt.Errorf("%w: dynacrypttest: not a ciphertext of the fake Cipher", dynacrypt.ErrIntegrity)
	errAltered = fmt.Errorf("%w: dynacrypttest: ciphertext altered", dynacrypt.ErrIntegrity)
)

// Encrypt returns the fake ciphertext, or the error set by FailEncrypt.
func (c *Cipher) Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error) {
	c.encrypts.Add(1)
	if err := c.failure(&c.encryptErr); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []byte(fakePrefix + c.keyID + ":" + encodeContext(encryptionContext) + "\n")
	out = append(out, plaintext...)
	return append(out, c.mac(out)...), nil
}

// Decrypt returns the plaintext, or an error: the one set by FailDecrypt;
// one wrapping [ErrWrongKey] if ciphertext was made under another key;
// [ErrContextMismatch] if the encryption context differs from Encrypt's; or
// another wrapping [dynacrypt.ErrIntegrity] if ciphertext is not a fake's,
// or was changed.
func (c *Cipher) Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	c.decrypts.Add(1)
	if err := c.failure(&c.decryptErr); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(ciphertext, []byte(fakePrefix))
	if !ok || len(rest) < keyIDLen+1+sha256.Size {
		return nil, errNotFake
	}
	if string(rest[:keyIDLen]) != c.keyID {
		return nil, ErrWrongKey
	}
	body, tag := ciphertext[:len(ciphertext)-sha256.Size], ciphertext[len(ciphertext)-sha256.Size:]
	if !hmac.Equal(c.mac(body), tag) {
		return nil, errAltered
	}
	ec, plain, ok := bytes.Cut(body[len(fakePrefix)+keyIDLen+1:], []byte("\n"))
	if !ok {
		return nil, errNotFake
	}
	if string(ec) != encodeContext(encryptionContext) {
		return nil, ErrContextMismatch
	}
	return bytes.Clone(plain), nil
}

// mac returns the HMAC-SHA-256 of b under the key.
func (c *Cipher) mac(b []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(b)
	return m.Sum(nil)
}

// encodeContext renders a context unambiguously: sorted, quoted pairs.
func encodeContext(ec map[string]string) string {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%q=%q;", k, ec[k])
	}
	return b.String()
}

func (c *Cipher) failure(slot *error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *slot
}

// FailEncrypt makes every later Encrypt return err, until FailEncrypt(nil).
func (c *Cipher) FailEncrypt(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.encryptErr = err
}

// FailDecrypt makes every later Decrypt return err, until FailDecrypt(nil).
func (c *Cipher) FailDecrypt(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.decryptErr = err
}

// Encrypts returns how many times Encrypt was called.
func (c *Cipher) Encrypts() int64 { return c.encrypts.Load() }

// Decrypts returns how many times Decrypt was called.
func (c *Cipher) Decrypts() int64 { return c.decrypts.Load() }

// ErrInjected is a ready-made error for FailEncrypt and FailDecrypt.
var ErrInjected = errors.New("dynacrypttest: injected failure")
