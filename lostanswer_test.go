package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// faultAttempts is how many attempts the faulty client's retryer makes per
// request.
const faultAttempts = 3

// lostAnswers is the set-up of the tests of writes whose answer was lost:
// Stores of Users over a client whose requests pass through a
// testrig.FaultProxy in front of dynalite, and a Store over a direct client,
// for another writer and for checking what is stored.
type lostAnswers struct {
	proxy          *testrig.FaultProxy
	db             *dynamodb.Client // through the proxy
	table          string
	versioned      *dynacrypt.Store[User]
	plain          *dynacrypt.Store[User]
	unsigned       *dynacrypt.Store[User] // versioned, with username unsigned
	directUnsigned *dynacrypt.Store[User]
	direct         *dynacrypt.Store[User] // versioned, not through the proxy
	counters       *dynacrypt.Store[Counter]
	plainCounters  *dynacrypt.Store[Counter]
	directCounters *dynacrypt.Store[Counter]
	cipher         dynacrypt.Cipher
}

func newLostAnswers(t *testing.T) *lostAnswers {
	db, proxy := testrig.FaultyDynamoDB(t, faultAttempts)
	direct := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, direct, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	c := newAES(t)
	versioned := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c)}
	plain := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c)}
	unsigned := dynacrypt.WithUnsignedAttributes("username")
	return &lostAnswers{
		proxy:          proxy,
		db:             db,
		table:          table,
		versioned:      mustNew[User](t, db, table, versioned...),
		plain:          mustNew[User](t, db, table, plain...),
		unsigned:       mustNew[User](t, db, table, append(versioned, unsigned)...),
		directUnsigned: mustNew[User](t, direct, table, append(versioned, unsigned)...),
		direct:         mustNew[User](t, direct, table, versioned...),
		counters:       mustNew[Counter](t, db, table, versioned...),
		plainCounters:  mustNew[Counter](t, db, table, plain...),
		directCounters: mustNew[Counter](t, direct, table, versioned...),
		cipher:         c,
	}
}

// Counter is an item that Updates increment, each recording its ID in
// Applied, so that an increment applied twice shows.
type Counter struct {
	ID      string   `dynamodbav:"id"`
	N       int      `dynamodbav:"n"`
	Applied []string `dynamodbav:"applied"`
	Secret  string   `dynamodbav:"secret" encrypt:"kms"`
	Version int64    `dynamodbav:"version"`
}

// increment returns an Update function that adds one to the counter under
// the ID op, and counts its calls.
func increment(op string, calls *atomic.Int64) func(*Counter) error {
	return func(c *Counter) error {
		calls.Add(1)
		c.N++
		c.Applied = append(c.Applied, op)
		return nil
	}
}

// lostFaults are the faults after which the server has committed a write
// but the client has no answer.
var lostFaults = []testrig.Fault{testrig.LoseAnswer, testrig.FailAfter}

func faultName(f testrig.Fault) string {
	return map[testrig.Fault]string{testrig.LoseAnswer: "reset after commit", testrig.FailAfter: "500 after commit",
		testrig.FailBefore: "500 before the server", testrig.Throttle: "throttled"}[f]
}

// faulted runs call with the plan set, and checks that the proxy injected
// want faults meanwhile, or if want is 0, some.
func (la *lostAnswers) faulted(t *testing.T, plan testrig.Plan, want int64, call func() error) error {
	t.Helper()
	before := la.proxy.Injected()
	la.proxy.SetPlan(plan)
	err := call()
	la.proxy.SetPlan(nil)
	if got := la.proxy.Injected() - before; got != want && (want != 0 || got == 0) {
		t.Fatalf("the proxy injected %d faults, want %d", got, want)
	}
	return err
}

// TestPutWhoseAnswerWasLost: a conditional Put whose first attempt commits
// and whose answer is lost (connection reset, or 500) is retried by the
// SDK; the retry finds the item the first attempt wrote and the Put
// succeeds, instead of reporting a conflict with itself.
func TestPutWhoseAnswerWasLost(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	for _, fault := range lostFaults {
		for _, tc := range []struct {
			name    string
			stored  bool // an item at version 1 exists before
			put     func(u *User) error
			version int64                  // the caller's version after
			direct  *dynacrypt.Store[User] // reads what is stored
		}{
			{"create", false, func(u *User) error { return la.versioned.Put(ctx, u) }, 1, la.direct},
			{"at version 1", true, func(u *User) error { return la.versioned.Put(ctx, u) }, 2, la.direct},
			{"IfNotExists", false, func(u *User) error { return la.plain.Put(ctx, u, dynacrypt.IfNotExists()) }, 0, la.direct},
			// With unsigned attributes the condition does not accept the
			// write's own header; the Store reads it after the retry fails.
			{"create, unsigned attributes", false, func(u *User) error { return la.unsigned.Put(ctx, u) }, 1, la.directUnsigned},
			{"at version 1, unsigned attributes", true, func(u *User) error { return la.unsigned.Put(ctx, u) }, 2, la.directUnsigned},
		} {
			t.Run(faultName(fault)+"/"+tc.name, func(t *testing.T) {
				id := fmt.Sprintf("put-%d-%s", fault, tc.name)
				u := &User{ID: id, Username: "ana", Token: "secret-" + id}
				if tc.stored {
					if err := tc.direct.Put(ctx, &User{ID: id, Token: "old"}); err != nil {
						t.Fatal(err)
					}
					u.Version = 1
				}
				err := la.faulted(t, testrig.Nth("PutItem", 1, fault), 1, func() error { return tc.put(u) })
				if err != nil {
					t.Fatalf("Put whose answer was lost after it committed: %v", err)
				}
				if u.Version != tc.version {
					t.Errorf("caller's version %d, want %d", u.Version, tc.version)
				}
				got, err := tc.direct.Get(ctx, User{ID: id}, dynacrypt.ConsistentRead())
				if err != nil || got.Token != u.Token || got.Version != tc.version {
					t.Fatalf("stored: %+v, %v; want the item as written at version %d", got, err, tc.version)
				}
			})
		}
	}
}

// TestUpdateWhoseAnswerWasLostAppliesOnce: Update's write commits and its
// answer is lost; fn has run once and the stored counter went up by one,
// with and without a version attribute.
func TestUpdateWhoseAnswerWasLostAppliesOnce(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	for _, fault := range lostFaults {
		for _, store := range []struct {
			name string
			s    *dynacrypt.Store[Counter]
		}{{"versioned", la.counters}, {"unversioned", la.plainCounters}} {
			t.Run(faultName(fault)+"/"+store.name, func(t *testing.T) {
				id := fmt.Sprintf("update-%d-%s", fault, store.name)
				if err := la.directCounters.Put(ctx, &Counter{ID: id, Secret: "s"}); err != nil {
					t.Fatal(err)
				}
				var calls atomic.Int64
				var got *Counter
				err := la.faulted(t, testrig.Nth("PutItem", 1, fault), 1, func() (err error) {
					got, err = store.s.Update(ctx, Counter{ID: id}, increment("once", &calls))
					return err
				})
				if err != nil || got.N != 1 {
					t.Fatalf("Update whose answer was lost: %+v, %v; want N 1", got, err)
				}
				stored, err := la.directCounters.Get(ctx, Counter{ID: id}, dynacrypt.ConsistentRead())
				if err != nil {
					t.Fatal(err)
				}
				if calls.Load() != 1 || stored.N != 1 || !slices.Equal(stored.Applied, []string{"once"}) {
					t.Errorf("fn called %d times; stored N %d, applied %v; want once", calls.Load(), stored.N, stored.Applied)
				}
			})
		}
	}
}

// TestConflictAfterRetriedAttempt: a write whose condition truly fails is
// never reported a success. After an attempt with a definite answer (a
// throttle) it is the conflict it was; after one without (a 500, an answer
// lost while another writer got in before the retry) its outcome is
// unknown, which Update does not retry.
func TestConflictAfterRetriedAttempt(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	for _, tc := range []struct {
		name    string
		fault   testrig.Fault
		put     User
		stale   bool   // another writer took the item to version 2 before
		between func() // another writer, between the faulted attempt and the retry
		want    error  // ErrStale, or ErrOutcomeUnknown
		stored  string // the token stored after, at version 2
	}{
		{"stale after a throttle", testrig.Throttle, User{ID: "throttled", Token: "mine", Version: 1}, true, nil,
			dynacrypt.ErrStale, "v2"},
		{"stale after a 500 before the server", testrig.FailBefore, User{ID: "failed-before", Token: "mine", Version: 1}, true, nil,
			dynacrypt.ErrOutcomeUnknown, "v2"},
		{"create, answer lost, another writer before the retry", testrig.LoseAnswer, User{ID: "overtaken", Token: "mine"}, false,
			func() {
				if _, err := la.direct.Update(ctx, User{ID: "overtaken"}, func(u *User) error { u.Token = "theirs"; return nil }); err != nil {
					t.Error(err)
				}
			}, dynacrypt.ErrOutcomeUnknown, "theirs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stale {
				if err := la.direct.Put(ctx, &User{ID: tc.put.ID, Token: "v1"}); err != nil {
					t.Fatal(err)
				}
				if _, err := la.direct.Update(ctx, User{ID: tc.put.ID}, func(u *User) error { u.Token = "v2"; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			la.proxy.Between(tc.between)
			defer la.proxy.Between(nil)
			u := tc.put
			err := la.faulted(t, testrig.Nth("PutItem", 1, tc.fault), 1, func() error { return la.versioned.Put(ctx, &u) })
			if tc.want == dynacrypt.ErrOutcomeUnknown {
				checkUnknown(t, err, false)
			} else if !errors.Is(err, tc.want) || kindOf(err) != tc.want {
				t.Errorf("%v, want %v", err, tc.want)
			}
			if u.Version != tc.put.Version {
				t.Errorf("caller's version changed to %d", u.Version)
			}
			got, err := la.direct.Get(ctx, User{ID: tc.put.ID}, dynacrypt.ConsistentRead())
			if err != nil || got.Token != tc.stored || got.Version != 2 {
				t.Errorf("stored: %+v, %v; want token %q at version 2", got, err, tc.stored)
			}
		})
	}
	t.Run("Update, answer lost, another writer before the retry", func(t *testing.T) {
		if err := la.directCounters.Put(ctx, &Counter{ID: "counter-overtaken", Secret: "s"}); err != nil {
			t.Fatal(err)
		}
		var theirs atomic.Int64
		la.proxy.Between(func() {
			if _, err := la.directCounters.Update(ctx, Counter{ID: "counter-overtaken"}, increment("theirs", &theirs)); err != nil {
				t.Error(err)
			}
		})
		defer la.proxy.Between(nil)
		var calls atomic.Int64
		err := la.faulted(t, testrig.Nth("PutItem", 1, testrig.LoseAnswer), 1, func() error {
			_, err := la.counters.Update(ctx, Counter{ID: "counter-overtaken"}, increment("mine", &calls))
			return err
		})
		checkUnknown(t, err, false)
		stored, err := la.directCounters.Get(ctx, Counter{ID: "counter-overtaken"}, dynacrypt.ConsistentRead())
		if err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 1 || stored.N != 2 || !slices.Equal(stored.Applied, []string{"mine", "theirs"}) {
			t.Errorf("fn called %d times; stored N %d, applied %v; want mine once, then theirs", calls.Load(), stored.N, stored.Applied)
		}
	})
}

// checkUnknown checks that err says the outcome is unknown, and is not a
// conflict; gone says whether it also says the item is gone.
func checkUnknown(t *testing.T, err error, gone bool) {
	t.Helper()
	if !errors.Is(err, dynacrypt.ErrOutcomeUnknown) || errors.Is(err, dynacrypt.ErrConflict) {
		t.Errorf("%v: want ErrOutcomeUnknown and no ErrConflict", err)
	}
	if errors.Is(err, dynacrypt.ErrNotFound) != gone {
		t.Errorf("%v: wraps ErrNotFound %v, want %v", err, !gone, gone)
	}
	var be *dynacrypt.BatchError
	if !errors.As(err, &be) && kindOf(err) != dynacrypt.ErrOutcomeUnknown {
		t.Errorf("%v: Kind %v, want ErrOutcomeUnknown", err, kindOf(err))
	}
}

// TestDeleteWhoseAnswerWasLost: a versioned Delete cannot prove the delete
// was its own: after its answer was lost and the retry found the item gone,
// it says the item is gone and the outcome unknown, not a conflict.
func TestDeleteWhoseAnswerWasLost(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	for _, fault := range lostFaults {
		t.Run(faultName(fault), func(t *testing.T) {
			id := fmt.Sprintf("delete-%d", fault)
			u := &User{ID: id, Token: "t"}
			if err := la.direct.Put(ctx, u); err != nil {
				t.Fatal(err)
			}
			err := la.faulted(t, testrig.Nth("DeleteItem", 1, fault), 1, func() error { return la.versioned.Delete(ctx, *u) })
			checkUnknown(t, err, true)
			if _, err := la.direct.Get(ctx, User{ID: id}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrNotFound) {
				t.Errorf("after the Delete: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestBatchWhoseAnswersWereLost: BatchError.Failed never names an item
// that was written (or deleted); an item whose outcome is unknown is in
// Unknown.
func TestBatchWhoseAnswersWereLost(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	batchError := func(t *testing.T, err error) *dynacrypt.BatchError {
		t.Helper()
		var be *dynacrypt.BatchError
		if err != nil && !errors.As(err, &be) {
			t.Fatalf("%v: want a *BatchError", err)
		}
		if be == nil {
			be = &dynacrypt.BatchError{}
		}
		return be
	}

	t.Run("conditional puts", func(t *testing.T) {
		items, keys := batchOf("put", 40)
		err := la.faulted(t, testrig.Every("PutItem", 4, testrig.LoseAnswer), 0, func() error { return la.versioned.BatchPut(ctx, items) })
		be := batchError(t, err)
		for i, s := range stored(t, la.direct, keys) {
			if s && slices.Contains(be.Failed, i) {
				t.Errorf("item %d is stored and listed failed", i)
			}
			if !s && !slices.Contains(be.Failed, i) && !slices.Contains(be.Unknown, i) {
				t.Errorf("item %d is not stored, and not listed", i)
			}
		}
		if err != nil {
			t.Errorf("BatchPut with lost answers: %v, want every item stored", err)
		}
		for i, u := range items {
			if u.Version != 1 {
				t.Errorf("item %d: caller's version %d, want 1", i, u.Version)
			}
		}
	})
	t.Run("conditional deletes", func(t *testing.T) {
		items, keys := batchOf("del", 40)
		if err := la.direct.BatchPut(ctx, items); err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			keys[i].Version = 1
		}
		before := la.proxy.Injected()
		err := la.faulted(t, testrig.Every("DeleteItem", 4, testrig.LoseAnswer), 0, func() error { return la.versioned.BatchDelete(ctx, keys) })
		lost := int(la.proxy.Injected() - before)
		be := batchError(t, err)
		for i, s := range stored(t, la.direct, keys) {
			if !s && slices.Contains(be.Failed, i) {
				t.Errorf("item %d is deleted and listed failed", i)
			}
			if s && !slices.Contains(be.Failed, i) && !slices.Contains(be.Unknown, i) {
				t.Errorf("item %d is still stored, and not listed", i)
			}
		}
		if len(be.Failed) != 0 || len(be.Unknown) == 0 || len(be.Unknown) > lost || !errors.Is(err, dynacrypt.ErrOutcomeUnknown) {
			t.Errorf("BatchDelete with %d lost answers: %v (failed %v, unknown %v); want only unknown ones", lost, err, be.Failed, be.Unknown)
		}
	})
	t.Run("BatchWriteItem", func(t *testing.T) {
		// Every answer lost: the SDK's attempts at the first request of 25
		// run out, and the other 35 items are never sent.
		items, keys := batchOf("overwrite", 60)
		err := la.faulted(t, testrig.Every("BatchWriteItem", 1, testrig.LoseAnswer), faultAttempts, func() error {
			return la.versioned.BatchPut(ctx, items, dynacrypt.Overwrite())
		})
		be := batchError(t, err)
		var first, rest []int
		for i := range items {
			if i < 25 {
				first = append(first, i)
			} else {
				rest = append(rest, i)
			}
		}
		if !slices.Equal(be.Unknown, first) || !slices.Equal(be.Failed, rest) {
			t.Errorf("BatchPut with every answer lost: %v (failed %v, unknown %v); want 0-24 unknown, 25-59 failed", err, be.Failed, be.Unknown)
		}
		for i, s := range stored(t, la.direct, keys) {
			if s != (i < 25) {
				t.Errorf("item %d stored: %v", i, s)
			}
			if s && slices.Contains(be.Failed, i) {
				t.Errorf("item %d is stored and listed failed", i)
			}
		}
	})
}

// TestCounterUnderLostAnswers: goroutines increment one counter through
// two Stores while every tenth write's answer is lost (reset or 500 after
// the commit). Every increment reported done is stored once, none is
// applied twice, and the counter is between the successes and the
// successes plus the unknown outcomes.
func TestCounterUnderLostAnswers(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	workers, updates := 8, 100
	if testing.Short() {
		updates = 25
	}
	stores := []*dynacrypt.Store[Counter]{la.counters, mustNew[Counter](t, la.db, la.table,
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(la.cipher))}
	if err := la.directCounters.Put(ctx, &Counter{ID: "counter", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	la.proxy.SetPlan(func(op string, n int64) testrig.Fault {
		switch {
		case op != "PutItem" || n%10 != 0:
			return testrig.Pass
		case n%20 == 0:
			return testrig.FailAfter
		default:
			return testrig.LoseAnswer
		}
	})
	var (
		calls                       atomic.Int64
		mu                          sync.Mutex
		succeeded, unknown, refused []string
		wg                          sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range updates {
				op := fmt.Sprintf("w%d-%d", w, i)
				_, err := stores[w%2].Update(ctx, Counter{ID: "counter"}, increment(op, &calls))
				mu.Lock()
				switch {
				case err == nil:
					succeeded = append(succeeded, op)
				case errors.Is(err, dynacrypt.ErrOutcomeUnknown):
					unknown = append(unknown, op)
				default:
					if !errors.Is(err, dynacrypt.ErrConflict) {
						t.Errorf("%s: %v", op, err)
					}
					refused = append(refused, op)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	la.proxy.SetPlan(nil)

	final, err := la.directCounters.Get(ctx, Counter{ID: "counter"}, dynacrypt.ConsistentRead())
	if err != nil {
		t.Fatal(err)
	}
	times := map[string]int{}
	twice := 0
	for _, op := range final.Applied {
		if times[op]++; times[op] == 2 {
			twice++
		}
	}
	t.Logf("%d Updates, %d lost answers: %d succeeded, %d unknown, %d gave up; counter %d; fn called %d times; %d applied twice",
		workers*updates, la.proxy.Injected(), len(succeeded), len(unknown), len(refused), final.N, calls.Load(), twice)
	if la.proxy.Injected() == 0 {
		t.Fatal("no answer was lost")
	}
	if twice != 0 || final.N != len(final.Applied) {
		t.Errorf("%d increments applied twice (counter %d, %d applied)", twice, final.N, len(final.Applied))
	}
	if s, u := len(succeeded), len(unknown); final.N < s || final.N > s+u {
		t.Errorf("counter %d, want between %d successes and %d successes and unknown outcomes", final.N, s, s+u)
	}
	for _, op := range succeeded {
		if times[op] != 1 {
			t.Errorf("%s succeeded and was applied %d times", op, times[op])
		}
	}
	for _, op := range refused {
		if times[op] != 0 {
			t.Errorf("%s gave up and was applied %d times", op, times[op])
		}
	}
}

// optionlessDB is a DB wrapper that drops the per-call options, as a
// user's fake or tracing wrapper may.
type optionlessDB struct{ *dynamodb.Client }

func (d optionlessDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return d.Client.PutItem(ctx, in)
}

// TestLostAnswerThroughWrapperWithoutOptions: a DB that drops the options
// the Store passes still recognises a retry of its own write: the
// condition accepts the item it wrote.
func TestLostAnswerThroughWrapperWithoutOptions(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	users := mustNew[User](t, optionlessDB{la.db}, la.table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(la.cipher))
	u := &User{ID: "wrapped", Token: "t"}
	if err := la.faulted(t, testrig.Nth("PutItem", 1, testrig.LoseAnswer), 1, func() error { return users.Put(ctx, u) }); err != nil || u.Version != 1 {
		t.Fatalf("Put whose answer was lost, through a wrapper: %v (version %d)", err, u.Version)
	}
}

// TestLostAnswerSettledByReturnedItem: where the server returns the item
// with a failed condition (ReturnValuesOnConditionCheckFailure, which
// DynamoDB honours and dynalite ignores: itemReturningDB stands in), a
// Store whose condition does not accept its own header (it has unsigned
// attributes) finds the header there after a lost answer, without a read.
func TestLostAnswerSettledByReturnedItem(t *testing.T) {
	ctx := context.Background()
	la := newLostAnswers(t)
	db := &itemReturningDB{Client: la.db}
	users := mustNew[User](t, db, la.table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(la.cipher), dynacrypt.WithUnsignedAttributes("username"))
	u := &User{ID: "returned", Username: "ana", Token: "t"}
	if err := users.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.Username = "ana.b"
	err := la.faulted(t, testrig.Nth("PutItem", 1, testrig.LoseAnswer), 1, func() error { return users.Put(ctx, u) })
	if err != nil || u.Version != 2 || db.gets.Load() != 0 {
		t.Fatalf("Put whose answer was lost: %v (version %d) after %d reads; want version 2 after none", err, u.Version, db.gets.Load())
	}
}

// TestLostAnswerWithoutCipher: a Store without a Cipher writes no header,
// so nothing recognises its own write: after a lost answer whose retry
// fails, the outcome is unknown, never a conflict, and Update does not
// call fn again.
func TestLostAnswerWithoutCipher(t *testing.T) {
	type Tally struct {
		ID      string `dynamodbav:"id"`
		N       int    `dynamodbav:"n"`
		Version int64  `dynamodbav:"version"`
	}
	ctx := context.Background()
	la := newLostAnswers(t)
	tallies := mustNew[Tally](t, la.db, la.table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"))
	err := la.faulted(t, testrig.Nth("PutItem", 1, testrig.LoseAnswer), 1, func() error { return tallies.Put(ctx, &Tally{ID: "tally"}) })
	checkUnknown(t, err, false)
	calls := 0
	err = la.faulted(t, testrig.Nth("PutItem", 1, testrig.LoseAnswer), 1, func() error {
		_, err := tallies.Update(ctx, Tally{ID: "tally"}, func(c *Tally) error { calls++; c.N++; return nil })
		return err
	})
	checkUnknown(t, err, false)
	got, err := tallies.Get(ctx, Tally{ID: "tally"}, dynacrypt.ConsistentRead())
	if err != nil || calls != 1 || got.N != 1 || got.Version != 2 {
		t.Errorf("after Update: %+v, %v, fn called %d times; want N 1 at version 2, fn once", got, err, calls)
	}
}
