package dynacrypt

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A PlaintextPhase is a step of encrypting a table that already holds
// plaintext items while its services run (see [WithPlaintextItems]). A
// rolling deployment moves every instance to the next phase before any
// moves on.
type PlaintextPhase int

const (
	// WritePlaintext (phase 1) reads plaintext and encrypted items and
	// writes plaintext ones, which instances still on the old code read.
	// It takes LegacyUnverified: the old writers still change the
	// plaintext items, so no snapshot of them holds. Update of a
	// plaintext item writes it back in plaintext, on condition that every
	// attribute is as read; Reencrypt refuses to run.
	WritePlaintext PlaintextPhase = 1
	// ReadPlaintext (phase 2) writes encrypted items and still reads
	// plaintext ones. With LegacyUnverified (while instances of phase 1
	// remain, and until a snapshot is taken) it reads any plaintext item
	// but writes none back: Update of one fails with ErrNotVouched. With
	// LegacyManifest it reads only the plaintext items the manifest lists,
	// unchanged, and Update and Reencrypt write those encrypted.
	ReadPlaintext PlaintextPhase = 2
	// RefusePlaintext (phase 3), once the walk has encrypted every
	// plaintext item, refuses plaintext items with ErrIntegrity, as a
	// Store without WithPlaintextItems does. The LegacyOptions given with
	// it are ignored, so that the phase alone changes.
	RefusePlaintext PlaintextPhase = 3
)

func (p PlaintextPhase) String() string {
	switch p {
	case WritePlaintext:
		return "WritePlaintext"
	case ReadPlaintext:
		return "ReadPlaintext"
	case RefusePlaintext:
		return "RefusePlaintext"
	}
	return fmt.Sprintf("PlaintextPhase(%d)", int(p))
}

// WithPlaintextItems lets a Store serve a table that holds plaintext items
// (items without a header, every attribute stored as is) while it is
// encrypted, in phase: the step of a rolling deployment the Store is at
// (see [PlaintextPhase]). A plaintext item reads as at version 0, its
// encrypted fields as stored.
//
// Plaintext items carry no signature, so anyone who can write the table
// could plant one, and a Store that signed what it read (an Update, a
// walk) would make the plant genuine for good. The guard is the legacy
// format's, and New refuses the mode without it:
//
//   - LegacyUntil (required) ends plaintext reading at a date.
//   - LegacyManifest or LegacyUnverified says what vouches for a plaintext
//     item. A manifest is a signed snapshot of the table's plaintext items
//     ([Store.LegacySnapshot]), taken once nothing writes plaintext any
//     more: only the items it lists, unchanged, are read, and only they
//     are written back encrypted, by Update and by [Store.Reencrypt]; any
//     other item without a header fails with ErrIntegrity before any KMS
//     request. LegacyUnverified, for the rollout, reads every plaintext
//     item and encrypts none.
//   - A plaintext item may hold only the attributes T declares, but the
//     version attribute, which only encrypted items have
//     (LegacyAttributes narrows them), and an encrypted attribute of it
//     may be binary only if T's field can be. So an encrypted item whose
//     header was removed does not read as plaintext: its version, or a
//     ciphertext where T holds no bytes, tells; and where neither does (no
//     version attribute, and byte fields only), the manifest does.
//
// Items without a header of any format are what this mode reads; every
// other item is read as without it. Secondary indexes keyed by plaintext
// attributes, and unsigned attributes (a TTL attribute set by another
// job), serve plaintext items as encrypted ones. A beacon index does not:
// plaintext items have no beacons until they are encrypted.
func WithPlaintextItems(phase PlaintextPhase, opts ...LegacyOption) Option {
	return func(c *config) {
		if phase == RefusePlaintext {
			if c.legacy != nil && c.legacy.mode == plaintextMode {
				c.legacy = nil
			}
			return
		}
		lo := &legacyOptions{mode: plaintextMode, values: legacyPlaintext{phase: phase}}
		for _, o := range opts {
			o(lo)
		}
		setLegacy(c, lo)
	}
}

const plaintextMode = "WithPlaintextItems"

// legacyPlaintext is the format of plaintext items: every attribute as the
// Store marshals it, none encrypted.
type legacyPlaintext struct{ phase PlaintextPhase }

func (f legacyPlaintext) values(o *legacyOptions, t *legacySchema) (legacyValues, error) {
	switch {
	case f.phase != WritePlaintext && f.phase != ReadPlaintext:
		return nil, fmt.Errorf("%s: unknown phase %v", plaintextMode, f.phase)
	case f.phase == WritePlaintext && t.typ == nil:
		return nil, fmt.Errorf("%s: NewItems seals every item it writes: %v is for the services' Stores", plaintextMode, f.phase)
	case f.phase == WritePlaintext && o.manifest != nil:
		return nil, fmt.Errorf("%s: %v writes plaintext items, which no manifest lists: use LegacyUnverified, and a manifest from phase 2 on", plaintextMode, f.phase)
	}
	v := plainValues{}
	if t.typ != nil {
		v.binary = map[string]bool{}
		for _, e := range t.encrypted {
			v.binary[e.Attr] = e.MayBeBinary()
		}
	}
	return v, nil
}

// plainValues check the encrypted attributes of plaintext items; opening
// them takes nothing.
type plainValues struct {
	// binary: encrypted attribute -> whether T's field can marshal to a
	// binary value. nil for Items, which knows no types.
	binary map[string]bool
}

// check refuses a binary value where T's field cannot hold one: the
// ciphertext of an encrypted item whose header was removed.
func (v plainValues) check(name string, val types.AttributeValue) error {
	if _, ok := val.(*types.AttributeValueMemberB); ok && v.binary != nil && !v.binary[name] {
		return integrity("item has no header and its encrypted attribute %q is binary, which no plaintext value of it is: an encrypted item whose header was removed?", name)
	}
	return nil
}

func (plainValues) open(context.Context, *codec, map[string]types.AttributeValue) error { return nil }

// plaintext makes p a write of a plaintext item (WritePlaintext): as
// marshalled, without a header or the version attribute, which plaintext
// items do not have; they are at version 0. Its condition is the one an
// encrypted write has: the item as read by Update, or the version given.
func (s *Store[T]) plaintext(p *preparedPut, item *T) {
	if s.version != nil {
		delete(p.item, s.version.Attr)
		p.done = func() { s.setVersion(item, 0) }
	}
}
