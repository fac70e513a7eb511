package dynacrypt

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// freshKeys keeps a walk from trusting a cached current key: for a Cipher
// that caches it (a CurrentKeyRefresher), it has the Cipher read the
// current key of each tenant ("": the table's own) afresh once per walk,
// and checks before every rewrite that the item is not under a key newer
// than the current one. Without it, a process that cached a branch key's
// active version before a rotation elsewhere would call items under the old
// version current and skip them, and a walk after a rollback of the active
// version could move items onto it.
//
// A tenant is refreshed only once one of its items has shown its key to
// exist (the item opened, or the Cipher called it current), so that items
// naming made-up tenants cost the walk no more than reads of them do.
type freshKeys struct {
	cipher  CurrentKeyRefresher
	codec   *codec
	flights singleflight.Group
	done    sync.Map // tenant → struct{}
}

// newFreshKeys returns the freshKeys of a walk with c, or nil if c does not
// cache its current key.
func newFreshKeys(c Cipher, cd *codec) *freshKeys {
	r, ok := c.(CurrentKeyRefresher)
	if !ok {
		return nil
	}
	return &freshKeys{cipher: r, codec: cd}
}

// refreshed reports whether this walk has refreshed tenant's current key.
func (f *freshKeys) refreshed(tenant string) bool {
	_, ok := f.done.Load(tenant)
	return ok
}

// refresh has the Cipher read tenant's current key afresh, unless this walk
// did already.
func (f *freshKeys) refresh(ctx context.Context, tenant string) error {
	if f.refreshed(tenant) {
		return nil
	}
	_, err, _ := f.flights.Do(tenant, func() (any, error) {
		if f.refreshed(tenant) {
			return nil, nil
		}
		if err := f.cipher.RefreshCurrentKey(ctx, f.codec.ring.EncryptionContext(tenant)); err != nil {
			return nil, err
		}
		f.done.Store(tenant, struct{}{})
		return nil, nil
	})
	return err
}
