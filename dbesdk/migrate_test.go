package dbesdk_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Account is the item of the migration test: a counter the writers
// increment, and a secret.
type Account struct {
	ID      string `dynamodbav:"id"`
	Owner   string `dynamodbav:"owner"`
	Secret  string `dynamodbav:"secret" encrypt:"kms"`
	N       int64  `dynamodbav:"n"`
	Version int64  `dynamodbav:"version"`
}

// TestWalkMovesTableBetweenFormats: Reencrypt moves a table of native
// items to DB-ESDK's format, then back, while 4 writers update its items
// through Stores that write the walk's target format: every item ends in
// that format, no update is lost (each counter holds the updates that
// succeeded on it), and AWS's DB-ESDK (the oracle) decrypts every moved
// item to what the Store reads.
func TestWalkMovesTableBetweenFormats(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	db, table := usersTable(t)
	cipher, key := newAESCipher(t), newKey(t)
	base := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher)}
	native := mustNew[Account](t, db, table, base...)
	toDBESDK := mustNew[Account](t, db, table, append(base, dbesdk.Format(rawAES(t, key)))...)
	toNative := mustNew[Account](t, db, table, append(base, dbesdk.Format(rawAES(t, key), dbesdk.ReadOnly()))...)
	ctx := context.Background()

	items := make([]*Account, n)
	for i := range items {
		items[i] = &Account{ID: fmt.Sprintf("acct-%04d", i), Owner: fmt.Sprintf("owner %d", i), Secret: fmt.Sprintf("secret %d", i)}
	}
	if err := native.BatchPut(ctx, items, dynacrypt.Overwrite()); err != nil {
		t.Fatal(err)
	}
	updates := make([]atomic.Int64, n) // successful increments per item
	for _, phase := range []struct {
		name    string
		store   *dynacrypt.Store[Account]
		dbesdk  bool
		walkers int
	}{{"to DB-ESDK", toDBESDK, true, 4}, {"to native", toNative, false, 4}} {
		var wg sync.WaitGroup
		done := make(chan struct{})
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for {
					select {
					case <-done:
						return
					default:
					}
					i := r.IntN(n)
					_, err := phase.store.Update(ctx, Account{ID: items[i].ID}, func(a *Account) error { a.N++; return nil })
					if err != nil {
						t.Errorf("%s: writer %d: %v", phase.name, w, err)
						return
					}
					updates[i].Add(1)
				}
			}()
		}
		p, err := phase.store.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: phase.walkers, PageSize: 50})
		close(done)
		wg.Wait()
		if err != nil || p.Failed != 0 || p.Scanned != int64(n) {
			t.Fatalf("%s: walk %+v, %v", phase.name, p, err)
		}

		stored := scanAll(t, db, table)
		if len(stored) != n {
			t.Fatalf("%s: %d items in the table, want %d", phase.name, len(stored), n)
		}
		total := int64(0)
		for _, raw := range stored {
			_, isDBESDK := raw["aws_dbe_head"]
			_, isNative := raw["_dynacrypt"]
			if isDBESDK != phase.dbesdk || isNative == phase.dbesdk {
				t.Fatalf("%s: item %v is not in the target format", phase.name, raw["id"])
			}
			a, err := phase.store.UnmarshalItem(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			var i int
			fmt.Sscanf(a.ID, "acct-%d", &i)
			if a.N != updates[i].Load() || a.Secret != items[i].Secret || a.Owner != items[i].Owner {
				t.Fatalf("%s: %+v, want counter %d, secret %q", phase.name, a, updates[i].Load(), items[i].Secret)
			}
			total += a.N
		}
		t.Logf("%s: %d items, %d rewritten by the walk, %d skipped; the counters, which 4 writers increment during both walks, sum to %d", phase.name, n, p.Rewritten, p.Skipped, total)
		if phase.dbesdk {
			oracleDecryptsAccounts(t, table, key, stored, phase.store)
		}
	}
}

// oracleDecryptsAccounts has AWS's DB-ESDK decrypt stored Account items
// and checks it finds what store reads.
func oracleDecryptsAccounts(t *testing.T, table string, key []byte, stored []map[string]types.AttributeValue, store *dynacrypt.Store[Account]) {
	t.Helper()
	oracle := testrig.NewOracle(t)
	cfg := testrig.OracleConfig{
		LogicalTableName: table, PartitionKeyName: "id",
		AttributeActionsOnEncrypt: map[string]string{"id": "SIGN_ONLY", "owner": "SIGN_ONLY", "secret": "ENCRYPT_AND_SIGN", "n": "SIGN_ONLY", "version": "SIGN_ONLY"},
		Keyring:                   testrig.OracleRawAES("ns", "k", key),
	}
	failures := 0
	for i, r := range oracle.Decrypt(t, cfg, stored) {
		want, err := store.UnmarshalItem(context.Background(), stored[i])
		if err != nil {
			t.Fatal(err)
		}
		if r.Err != nil || accountOf(t, r.Item) != *want {
			failures++
			t.Errorf("item %d: DB-ESDK: %v", i, r.Err)
		}
	}
	t.Logf("the oracle decrypted %d moved items, %d failures", len(stored), failures)
}

func accountOf(t *testing.T, item map[string]types.AttributeValue) Account {
	t.Helper()
	var a Account
	if err := unmarshal(item, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// scanAll returns every item of table as stored.
func scanAll(t *testing.T, db *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	in := &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)}
	for {
		out, err := db.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
