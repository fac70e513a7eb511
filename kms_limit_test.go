package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestUnwrapLimitCountsKMSRequests: a KMSCipher configured by aliases it has
// not resolved tries a forged wrapped key under each of them, one KMS
// request per alias. The unwrap limit bounds KMS requests, not Cipher calls,
// so 100 forged headers cost the limit's burst whatever the number of
// aliases, and every forgery is refused.
func TestUnwrapLimitCountsKMSRequests(t *testing.T) {
	db, table, _ := rtUsers(t, 1)
	genuine := rawGet(t, db, table, userID(0))
	const forged = 100
	header := rtHeader(t, genuine)
	for i := range forged {
		f := cloneItem(genuine)
		f["id"] = &types.AttributeValueMemberS{Value: fmt.Sprint("forged-", i)}
		// Format 2 with a key reference no configured key has, and the
		// genuine blob with its last byte changed, which KMS rejects.
		wrapped := append([]byte(nil), rtWrapped(header)...)
		copy(wrapped[1:5], rtRandom(t, 4))
		wrapped[len(wrapped)-1] ^= byte(1 + i%255)
		f[hdr] = &types.AttributeValueMemberB{Value: rtWithWrapped(header, wrapped)}
		rawPut(t, db, table, f)
	}
	aliases := []string{testrig.KeyA, testrig.KeyB, testrig.AliasARN(testrig.KeyA), testrig.AliasARN(testrig.KeyB)}
	for n := 1; n <= len(aliases); n++ {
		t.Run(fmt.Sprintf("%d aliases", n), func(t *testing.T) {
			client, counter := testrig.KMS(t)
			cipher := dynacrypt.NewKMSCipher(client, aliases[0]).WithPreviousKeys(aliases[1:n]...)
			reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
			for i := range forged {
				_, err := reader.Get(context.Background(), User{ID: fmt.Sprint("forged-", i)})
				if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
					t.Fatalf("forged header %d: %v, want ErrIntegrity or ErrUnwrapLimited", i, err)
				}
			}
			t.Logf("%d forged headers, %d aliases not resolved: %d KMS requests", forged, n, counter.Requests())
			if got := counter.Requests(); got > dynacrypt.DefaultUnwrapBurst {
				t.Errorf("%d forged headers cost %d KMS requests with %d aliases, want at most the burst, %d", forged, got, n, dynacrypt.DefaultUnwrapBurst)
			}
		})
	}
}

// TestUnwrapUnderLaterAliasWithinLimit: a genuine item under the last of
// several aliases not resolved yet reads (one place per KMS request, given
// back on success), and later items under it take one request each.
func TestUnwrapUnderLaterAliasWithinLimit(t *testing.T) {
	db, table := usersTable(t)
	client, _ := testrig.KMS(t)
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyB)), dynacrypt.WithRootKeyMaxItems(1))
	for i := range 2 * dynacrypt.DefaultUnwrapBurst {
		if err := writer.Put(context.Background(), &User{ID: userID(i), Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	readerClient, counter := testrig.KMS(t)
	cipher := dynacrypt.NewKMSCipher(readerClient, testrig.AliasARN(testrig.KeyA)).WithPreviousKeys(testrig.KeyA, testrig.KeyB)
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	for i := range 2 * dynacrypt.DefaultUnwrapBurst {
		if _, err := reader.Get(context.Background(), User{ID: userID(i)}); err != nil {
			t.Fatalf("item %d under the third alias: %v", i, err)
		}
	}
	if got, want := counter.Requests(), int64(2+2*dynacrypt.DefaultUnwrapBurst); got != want {
		t.Errorf("%d KMS requests, want %d (two rejections while the alias was not resolved, then one per root key)", got, want)
	}
}
