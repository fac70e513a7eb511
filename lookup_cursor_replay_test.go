package dynacrypt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// TestLookupCursorReplayedAcrossIndexesRefused: a LookupPage cursor for one
// probe, replayed for the same probe on another index (whose beacon the
// probe's values also make), or as a QueryPage cursor, is ErrInvalidCursor:
// it must not resume another query at its position.
func TestLookupCursorReplayedAcrossIndexesRefused(t *testing.T) {
	ctx := context.Background()
	pens := dynacrypttest.NewStore[Pen](t, dynacrypttest.DynamoDB(t), penOptions(dynacrypttest.NewCipher())...)
	for _, id := range []string{"p1", "p2", "p3"} {
		if err := pens.Put(ctx, &Pen{ID: id, Region: "eu", Email: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	probe := Pen{Region: "eu", Email: "a@example.com"}
	first, err := pens.LookupPage(ctx, probe, "by-email", "", 1)
	if err != nil || first.Next == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	if p, err := pens.LookupPage(ctx, probe, "by-region-email", first.Next, 10); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
		t.Errorf("by-email cursor on by-region-email: %+v, %v; want ErrInvalidCursor", p, err)
	}
	if p, err := pens.QueryPage(ctx, Pen{ID: "p1"}, first.Next, 10); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
		t.Errorf("lookup cursor as a QueryPage cursor: %+v, %v; want ErrInvalidCursor", p, err)
	}
}
