package dbesdk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
)

// MultiKeyring returns a keyring that wraps each item's data key under
// every keyring given, as DB-ESDK's multi-keyring does: the generator makes
// the data key and wraps it, then each of the others wraps it too, so the
// item holds one encrypted data key per keyring (a KMS key in a second
// region, say, or a branch key and a KMS key kept for recovery). Writing
// fails if any keyring fails.
//
// Reading tries the generator, then the others in order, and stops at the
// first that unwraps the item; each refuses at no cost the EDKs that are
// not its own. An item any of them can read is read.
func MultiKeyring(generator *Keyring, others ...*Keyring) (*Keyring, error) {
	all := append([]*Keyring{generator}, others...)
	kinds := make([]string, len(all))
	for i, k := range all {
		if k == nil {
			return nil, fmt.Errorf("dbesdk: MultiKeyring: keyring %d is nil", i)
		}
		kinds[i] = k.kind
	}
	return &Keyring{k: multi(all), kind: "multi-keyring (" + strings.Join(kinds, "; ") + ")"}, nil
}

// multi is the multi-keyring: its first keyring is the generator.
type multi []*Keyring

// OnEncrypt has every keyring wrap the data key, the generator first.
func (m multi) OnEncrypt(ctx context.Context, em *structure.EncryptionMaterials) error {
	for _, k := range m {
		if err := k.k.OnEncrypt(ctx, em); err != nil {
			return fmt.Errorf("%s: %w", k.kind, err)
		}
	}
	return nil
}

// OnDecrypt returns at the first keyring that unwraps an EDK. Its error is
// local only if every keyring's was.
func (m multi) OnDecrypt(ctx context.Context, dm *structure.DecryptionMaterials, edks []structure.EDK) error {
	errs := make([]error, 0, len(m))
	local := true
	for _, k := range m {
		free := k.unwrapsLocally(dm, edks) // asked before: OnDecrypt may fill a cache
		err := k.k.OnDecrypt(ctx, dm, edks)
		if err == nil {
			return nil
		}
		local = local && (free || refusedLocally(err))
		errs = append(errs, fmt.Errorf("%s: %w", k.kind, err))
	}
	return refuse(errors.Join(errs...), local)
}

// UnwrapsLocally reports whether no keyring will make a request for edks
// (structure.LocalKeyring).
func (m multi) UnwrapsLocally(dm *structure.DecryptionMaterials, edks []structure.EDK) bool {
	for _, k := range m {
		if !k.unwrapsLocally(dm, edks) {
			return false
		}
	}
	return true
}

// refusedLocally reports whether an OnDecrypt error says it made no key
// service request.
func refusedLocally(err error) bool {
	var l interface{ Local() bool }
	return errors.As(err, &l) && l.Local()
}
