package branchcache

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
)

type key struct {
	id, version string
	created     time.Time
}

var errGone = fmt.Errorf("%w: test", dynacrypt.ErrKeyGone)

func newTestCache(t *testing.T) *Cache[*key] {
	t.Helper()
	c, err := New(Config[*key]{
		Size: 10, TTL: time.Minute, FailureTTL: time.Minute,
		Describe: func(k *key) Meta { return Meta{ID: k.id, Version: k.version, Created: k.created} },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestForgetKeepsOtherIDs: forgetting an id drops its versions and
// failures only, not those of ids that share a prefix with it.
func TestForgetKeepsOtherIDs(t *testing.T) {
	c := newTestCache(t)
	ctx := context.Background()
	for _, id := range []string{"a", "ab"} {
		if _, err := c.Version(ctx, id, "v1", func(context.Context) (*key, error) { return &key{id: id, version: "v1"}, nil }); err != nil {
			t.Fatal(err)
		}
		c.Version(ctx, id, "v2", func(context.Context) (*key, error) { return nil, errGone })
	}
	c.Forget("a")
	if c.Holds("a", "v1") || c.Holds("a", "v2") {
		t.Error("Forget(a) left a version or failure of a")
	}
	if !c.Holds("ab", "v1") || !c.Holds("ab", "v2") {
		t.Error("Forget(a) dropped a version or failure of ab")
	}
}

// TestFailuresOfTheMomentAreNotRemembered: only verdicts are remembered;
// a failure of the moment is fetched again at the next call.
func TestFailuresOfTheMomentAreNotRemembered(t *testing.T) {
	c := newTestCache(t)
	ctx := context.Background()
	fetches := 0
	fail := func(err error) func(context.Context) (*key, error) {
		return func(context.Context) (*key, error) { fetches++; return nil, err }
	}
	for range 3 {
		c.Version(ctx, "id", "throttled", fail(errors.New("throttled")))
		c.Version(ctx, "id", "gone", fail(errGone))
	}
	if fetches != 4 {
		t.Errorf("%d fetches, want 4 (3 throttled, 1 gone)", fetches)
	}
	if c.Holds("id", "throttled") || !c.Holds("id", "gone") {
		t.Error("Holds disagrees with what is remembered")
	}
}

// TestFetchPanicIsAnError: a fetch that panics fails its callers instead
// of ending the process.
func TestFetchPanicIsAnError(t *testing.T) {
	c := newTestCache(t)
	_, err := c.Active(context.Background(), "id", func(context.Context) (*key, error) { panic("boom") })
	if err == nil {
		t.Fatal("a panicking fetch returned no error")
	}
}
