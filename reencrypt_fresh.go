package dynacrypt

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// freshKeys has a walk's Cipher read its current key afresh once for each
// tenant ("": the table's own) before the walk decides which of that
// tenant's items are under it (CurrentKeyRefresher). Without it, a process
// that cached a branch key's active version before a rotation elsewhere
// would call the items under the old version current and skip them, or
// rewrap items onto a version that someone put back.
type freshKeys struct {
	codec   *codec
	flights singleflight.Group
	done    sync.Map // tenant → struct{}
}

// ensure refreshes the current key of raw's tenant, unless this walk did
// already. An item without a valid tenant is left to fail in its rewrite.
func (f *freshKeys) ensure(ctx context.Context, raw map[string]types.AttributeValue) error {
	if f == nil {
		return nil
	}
	tenant, err := f.codec.tenantOf(raw)
	if err != nil {
		return nil
	}
	return f.tenant(ctx, tenant)
}

func (f *freshKeys) tenant(ctx context.Context, tenant string) error {
	if _, ok := f.done.Load(tenant); ok {
		return nil
	}
	_, err, _ := f.flights.Do(tenant, func() (any, error) {
		if _, ok := f.done.Load(tenant); ok {
			return nil, nil
		}
		if err := f.codec.ring.RefreshCurrent(ctx, tenant); err != nil {
			return nil, err
		}
		f.done.Store(tenant, struct{}{})
		return nil, nil
	})
	return err
}
