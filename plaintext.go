package dynacrypt

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A PlaintextPhase is a step of encrypting a table that already holds
// plaintext items (see [WithPlaintextItems]).
type PlaintextPhase int

const (
	// WritePlaintext (phase 1) reads plaintext and encrypted items and
	// writes plaintext ones, which the services not yet on dynacrypt can
	// read.
	WritePlaintext PlaintextPhase = 1
	// ReadPlaintext (phase 2) writes encrypted items and still reads
	// plaintext ones.
	ReadPlaintext PlaintextPhase = 2
	// RefusePlaintext (phase 3) refuses plaintext items with ErrIntegrity,
	// as a Store without WithPlaintextItems does.
	RefusePlaintext PlaintextPhase = 3
)

// WithPlaintextItems lets a Store serve a table whose items without a
// header are plaintext items, in the given phase.
func WithPlaintextItems(phase PlaintextPhase, opts ...LegacyOption) Option {
	return func(c *config) {
		if phase == RefusePlaintext {
			c.legacy = nil
			return
		}
		lo := &legacyOptions{mode: "WithPlaintextItems", values: legacyPlaintext{phase: phase}, trusting: true}
		for _, o := range opts {
			o(lo)
		}
		c.legacy = lo
	}
}

// legacyPlaintext is the format of plaintext items: every attribute as the
// Store marshals it, none encrypted.
type legacyPlaintext struct{ phase PlaintextPhase }

func (f legacyPlaintext) values(*legacySchema) (legacyValues, error) { return plainValues{}, nil }

// plainValues open plaintext items: there is nothing to decrypt.
type plainValues struct{}

func (plainValues) check(string, types.AttributeValue) error { return nil }

func (plainValues) open(context.Context, *codec, map[string]types.AttributeValue) error { return nil }

// plaintext makes p a write of a plaintext item (WritePlaintext): av as
// marshalled, without a header or the version attribute, which plaintext
// items do not have; they are at version 0.
func (s *Store[T]) plaintext(p *preparedPut, item *T) {
	if s.version != nil {
		delete(p.item, s.version.Attr)
		p.done = func() { s.setVersion(item, 0) }
	}
}
