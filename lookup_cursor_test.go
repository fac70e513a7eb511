package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Pen has an e-mail with a beacon of one bit, so that half of all e-mails
// share each beacon value, alone and in a compound beacon with its region.
type Pen struct {
	ID     string `dynamodbav:"id"`
	Region string `dynamodbav:"region"`
	Email  string `dynamodbav:"email" encrypt:"kms,beacon=1,lower"`
}

func penOptions(cipher dynacrypt.Cipher) []dynacrypt.Option {
	return []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithBeaconKey(beaconKey),
		dynacrypt.WithCompoundBeacon("region_email", ".", dynacrypt.BeaconPart{Prefix: "R-", Attr: "region"}, dynacrypt.BeaconPart{Prefix: "E-", Attr: "email"}),
		dynacrypt.WithIndex("by-email", dynacrypt.BeaconAttribute("email"), ""),
		dynacrypt.WithIndex("by-region-email", "region_email", "")}
}

// TestLookupCursorBoundToProbe: a LookupPage cursor taken for one e-mail,
// sent with a probe for another e-mail whose beacon is the same, gives
// ErrInvalidCursor, through a standard and a compound beacon; it would
// otherwise resume the other lookup past that e-mail's own matches, and
// tell the cursor's holder that the two e-mails share a beacon. The refusal
// costs no KMS request in a process that holds the cursor's root key, and
// one (the genuine root key's unwrap) in one that does not. The same
// e-mail in another case, which the beacon lower-cases, resumes.
func TestLookupCursorBoundToProbe(t *testing.T) {
	ctx := context.Background()
	kmsClient, counter := testrig.KMS(t)
	db := testrig.DynamoDB(t)
	pens := dynacrypttest.NewStore[Pen](t, db, penOptions(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))...)

	// Two items per e-mail; e-mails until two share a beacon.
	byBeacon := map[string]string{}
	var a, b string
	for i := 0; b == ""; i++ {
		email := fmt.Sprintf("pen%d@example.com", i)
		for _, n := range []int{1, 2} {
			if err := pens.Put(ctx, &Pen{ID: fmt.Sprintf("%s#%d", email, n), Region: "eu", Email: email}); err != nil {
				t.Fatal(err)
			}
		}
		bv := rawGet(t, db, pens.Table(), email+"#1")[dynacrypt.BeaconAttribute("email")].(*types.AttributeValueMemberS).Value
		if other, ok := byBeacon[bv]; ok {
			a, b = other, email
		}
		byBeacon[bv] = email
	}

	for _, index := range []string{"by-email", "by-region-email"} {
		t.Run(index, func(t *testing.T) {
			first, err := pens.LookupPage(ctx, Pen{Region: "eu", Email: a}, index, "", 1)
			if err != nil || len(first.Items) != 1 || first.Next == "" {
				t.Fatalf("first page of %s: %+v, %v", a, first, err)
			}
			before := counter.Requests()
			p, err := pens.LookupPage(ctx, Pen{Region: "eu", Email: b}, index, first.Next, 10)
			if !errors.Is(err, dynacrypt.ErrInvalidCursor) {
				t.Fatalf("cursor of %s used for %s, which shares its beacon: %+v, %v; want ErrInvalidCursor", a, b, p, err)
			}
			if n := counter.Requests() - before; n != 0 {
				t.Errorf("the refusal cost %d KMS requests, want 0", n)
			}

			cold, coldCounter := testrig.KMS(t)
			fresh := mustNew[Pen](t, db, pens.Table(), penOptions(dynacrypt.NewKMSCipher(cold, testrig.KeyA))...)
			if _, err := fresh.LookupPage(ctx, Pen{Region: "eu", Email: b}, index, first.Next, 10); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
				t.Fatalf("in a fresh process: %v, want ErrInvalidCursor", err)
			}
			t.Logf("lookup-cursor-for-another-probe: %s refused with %d KMS requests in a fresh process", index, coldCounter.Requests())
			if n := coldCounter.Requests(); n > 1 {
				t.Errorf("the refusal in a fresh process cost %d KMS requests, want at most 1", n)
			}

			rest, err := pens.LookupPage(ctx, Pen{Region: "eu", Email: strings.ToUpper(a)}, index, first.Next, 10)
			if err != nil || len(rest.Items) != 1 || rest.Items[0].Email != a || rest.Items[0].ID == first.Items[0].ID || rest.Next != "" {
				t.Fatalf("the rest of %s's lookup: %+v, %v", a, rest, err)
			}
		})
	}
}
