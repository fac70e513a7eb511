package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// Update reads the item with key's key attributes (consistently), calls fn
// on it, and writes the result back on condition that the item has not
// changed since it was read: the version read, or without a version
// attribute, the header read (it changes on every write). If another writer
// got there first, Update reads again and calls fn again, after a short
// jittered backoff, up to WithUpdateAttempts times; then it returns an error
// wrapping ErrConflict. So no update is ever lost: each either lands on the
// latest state or reports failure.
//
// Nor is one applied twice. A write whose answer was lost (see Put) and
// that the SDK retried is recognised as Update's own and reported done;
// when Update cannot tell whether it landed, it returns ErrOutcomeUnknown
// and does not call fn again: re-read the item to see.
//
// fn may be called several times and must not change key fields or keep the
// pointer. If fn returns an error, nothing is written and Update returns that
// error as it is. Update returns ErrNotFound if there is no item.
//
// With [IfVersion](v), Update applies fn only if the stored version is v, and
// does not retry: the HTTP If-Match pattern, where the client names the
// version it edited. A stored item at another version gives ErrStale without
// a call to fn.
func (s *Store[T]) Update(ctx context.Context, key T, fn func(*T) error, opts ...UpdateOption) (*T, error) {
	var uc updateConfig
	for _, o := range opts {
		o(&uc)
	}
	if s.version == nil && !s.codec.seals() {
		return nil, s.fail("Update", errors.New("Update needs a version attribute (WithVersion), or items with a header (a Cipher, or an item format that writes), to detect concurrent changes"))
	}
	if uc.ifVersion != nil {
		item, err := s.updateIfVersion(ctx, &key, *uc.ifVersion, fn)
		if err != nil {
			return nil, s.fail("Update", err)
		}
		return item, nil
	}
	for attempt := 1; ; attempt++ {
		item, read, err := s.get(ctx, &key, readConfig{consistent: true}, true)
		if err != nil {
			return nil, s.fail("Update", err)
		}
		before := *item
		if err := fn(item); err != nil {
			return nil, err
		}
		if err := s.checkSameKey(&before, item); err != nil {
			return nil, s.fail("Update", err)
		}
		if s.version != nil {
			// The condition is on the version read, whatever fn did.
			v, err := s.versionOf(&before)
			if err != nil {
				return nil, s.fail("Update", err)
			}
			s.setVersion(item, v)
		}
		err = s.put(ctx, item, writeConfig{}, &read)
		if err == nil {
			return item, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, s.fail("Update", err)
		}
		if attempt >= s.cfg.updateAttempts {
			return nil, s.fail("Update", fmt.Errorf("gave up after %d attempts: %w", attempt, err))
		}
		if err := writeBackoff.Wait(ctx, attempt); err != nil {
			return nil, s.fail("Update", err)
		}
	}
}

// updateIfVersion is Update with IfVersion(want): one read, fn only if the
// item is at version want, one write on condition that it still is.
func (s *Store[T]) updateIfVersion(ctx context.Context, key *T, want int64, fn func(*T) error) (*T, error) {
	if s.version == nil {
		return nil, errors.New("IfVersion needs a version attribute: use WithVersion")
	}
	item, read, err := s.get(ctx, key, readConfig{consistent: true}, true)
	if err != nil {
		return nil, err
	}
	v, err := s.versionOf(item)
	if err != nil {
		return nil, err
	}
	if want < 0 || v != uint64(want) {
		return nil, fmt.Errorf("%w: the stored version is %d, not %d", ErrStale, v, want)
	}
	before := *item
	if err := fn(item); err != nil {
		return nil, err
	}
	if err := s.checkSameKey(&before, item); err != nil {
		return nil, err
	}
	s.setVersion(item, v)
	// The condition is the version (and the unsigned attributes as read),
	// and its failure says stale or gone; or for a legacy item, the item as
	// read.
	if err := s.put(ctx, item, writeConfig{ifVersion: true}, &read); err != nil {
		return nil, err
	}
	return item, nil
}

func (s *Store[T]) checkSameKey(before, after *T) error {
	b, a := reflect.ValueOf(before).Elem(), reflect.ValueOf(after).Elem()
	for _, f := range s.keyAttrs {
		if !reflect.DeepEqual(b.FieldByIndex(f.Index).Interface(), a.FieldByIndex(f.Index).Interface()) {
			return fmt.Errorf("update function changed key attribute %q (%s)", f.Attr, f.Path)
		}
	}
	return nil
}
