// Package dynacrypttest helps test code that uses dynacrypt: a fake Cipher
// that needs no KMS and counts its calls, and throwaway tables on a
// DynamoDB-compatible server such as DynamoDB Local.
package dynacrypttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dynacrypt/dynacrypt"
)

// Cipher is a fake dynacrypt.Cipher for tests. It is deterministic and not
// secret: its "ciphertext" is the plaintext with the encryption context
// written before it, so never use it for real data. It counts calls, checks
// that Decrypt receives the encryption context that Encrypt received, and
// fails on demand.
//
// A Cipher is safe for concurrent use. The zero value is not usable; call
// NewCipher.
type Cipher struct {
	encrypts   atomic.Int64
	decrypts   atomic.Int64
	mu         sync.Mutex
	encryptErr error
	decryptErr error
}

// NewCipher returns a fake Cipher.
func NewCipher() *Cipher { return &Cipher{} }

const fakePrefix = "dynacrypttest-fake:"

// ErrContextMismatch is wrapped by Decrypt's error when the encryption
// context differs from the one given to Encrypt. It also wraps
// dynacrypt.ErrIntegrity, as the Cipher contract asks.
var ErrContextMismatch = fmt.Errorf("%w: dynacrypttest: encryption context differs from the one used to encrypt", dynacrypt.ErrIntegrity)

var errNotFake = fmt.Errorf("%w: dynacrypttest: not a ciphertext of the fake Cipher", dynacrypt.ErrIntegrity)

// Encrypt returns the fake ciphertext, or the error set by FailEncrypt.
func (c *Cipher) Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error) {
	c.encrypts.Add(1)
	if err := c.failure(&c.encryptErr); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []byte(fakePrefix + encodeContext(encryptionContext) + "\n")
	return append(out, plaintext...), nil
}

// Decrypt returns the plaintext, or an error if the encryption context
// differs from Encrypt's (wrapping ErrContextMismatch), if ciphertext is not
// from Encrypt, or if FailDecrypt set one.
func (c *Cipher) Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	c.decrypts.Add(1)
	if err := c.failure(&c.decryptErr); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(ciphertext, []byte(fakePrefix))
	if !ok {
		return nil, errNotFake
	}
	ec, plain, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return nil, errNotFake
	}
	if string(ec) != encodeContext(encryptionContext) {
		return nil, ErrContextMismatch
	}
	return bytes.Clone(plain), nil
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
