package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// DynamoDB's batch limits.
const (
	batchGetMax   = 100
	batchWriteMax = 25
	// versionedBatchWorkers bounds the concurrent conditional requests a
	// batch on a versioned Store sends.
	versionedBatchWorkers = 8
)

func (s *Store[T]) batchError(op string, failed []int, err error) error {
	return newBatchError(op, s.table, failed, nil, err)
}

// keyID identifies an item by its key attributes, to match the items and
// unprocessed requests DynamoDB returns to the ones asked for.
func (s *Store[T]) keyID(item map[string]types.AttributeValue) (string, error) {
	var b []byte
	for _, f := range s.keyAttrs {
		var err error
		if b, err = canonical.Append(b, item[f.Attr]); err != nil {
			return "", err
		}
	}
	return string(b), nil
}

// BatchGet reads the items with the given keys: 100 keys per BatchGetItem
// request, keys DynamoDB leaves unprocessed retried with jittered exponential
// backoff until done or ctx ends. Result i is the item with keys[i], or nil
// if there is none; a key given twice is read once. Items are verified and
// decrypted as by Get. On failure the error is a *BatchError naming the keys
// not read, and the results hold the items that were.
func (s *Store[T]) BatchGet(ctx context.Context, keys []T, opts ...ReadOption) ([]*T, error) {
	rc := readConfigOf(opts)
	results := make([]*T, len(keys))
	want := map[string][]int{} // key ID -> indexes into keys
	var unique []string        // key IDs in order
	var keyMaps []map[string]types.AttributeValue
	for i := range keys {
		km, err := s.keyOf(&keys[i])
		if err != nil {
			return nil, s.batchError("BatchGet", []int{i}, fmt.Errorf("key %d: %w", i, err))
		}
		id, err := s.keyID(km)
		if err != nil {
			return nil, s.batchError("BatchGet", []int{i}, err)
		}
		if want[id] == nil {
			unique = append(unique, id)
			keyMaps = append(keyMaps, km)
		}
		want[id] = append(want[id], i)
	}
	answered := map[string]bool{} // found, or known to be missing
	fail := func(err error) ([]*T, error) {
		var failed []int
		for _, id := range unique {
			if !answered[id] {
				failed = append(failed, want[id]...)
			}
		}
		return results, s.batchError("BatchGet", failed, err)
	}
	for start := 0; start < len(keyMaps); start += batchGetMax {
		end := min(start+batchGetMax, len(keyMaps))
		pending := keyMaps[start:end]
		for attempt := 1; len(pending) > 0; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: pending, ConsistentRead: boolPtr(rc.consistent)}},
			})
			if err != nil {
				return fail(err)
			}
			for _, av := range out.Responses[s.table] {
				id, err := s.keyID(av)
				if err != nil {
					return fail(err)
				}
				item, err := s.decode(ctx, av, rc.skipDecrypt)
				if err != nil {
					return fail(fmt.Errorf("key %d: %w", want[id][0], err))
				}
				for _, i := range want[id] {
					results[i] = item
				}
				answered[id] = true
			}
			pending = out.UnprocessedKeys[s.table].Keys
			if len(pending) > 0 {
				if err := writeBackoff.Wait(ctx, attempt); err != nil {
					return fail(err)
				}
			}
		}
		for _, id := range unique[start:end] {
			answered[id] = true // the rest of the chunk is missing from the table
		}
	}
	return results, nil
}

// BatchPut writes items, encrypted and signed as by Put.
//
// BatchWriteItem cannot carry conditions. So on a Store without a version
// attribute, BatchPut sends BatchWriteItem requests of 25 items, replacing
// existing items, and retries what DynamoDB leaves unprocessed with jittered
// exponential backoff until done or ctx ends. On a Store with a version
// attribute it keeps optimistic locking instead: it sends one conditional
// PutItem per item (a few at a time), with Put's semantics, and sets each
// written item's version. With [Overwrite], a versioned Store also uses
// BatchWriteItem, for first loads into an empty table and migrations: items
// replace whatever has their key, and store their version plus one. Either
// way, on failure the error is a *BatchError naming the items not written
// (Failed) and those that may or may not have been, after an attempt got no
// definite answer (Unknown, see ErrOutcomeUnknown); the others were
// written, and their versions set.
func (s *Store[T]) BatchPut(ctx context.Context, items []*T, opts ...WriteOption) error {
	wc := writeConfigOf(opts)
	if wc.ifNotExists {
		return s.batchError("BatchPut", nil, errors.New("IfNotExists does not apply to BatchPut: use Put"))
	}
	if s.version != nil && !wc.overwrite {
		return s.eachConditional(ctx, "BatchPut", len(items), func(i int) error {
			if items[i] == nil {
				return errors.New("nil item")
			}
			return s.put(ctx, items[i], wc, nil)
		})
	}
	reqs := make([]types.WriteRequest, len(items))
	dones := make([]func(), len(items))
	for i, item := range items {
		if item == nil {
			return s.batchError("BatchPut", []int{i}, errors.New("nil item"))
		}
		p, err := s.preparePut(ctx, item, wc, nil)
		if err != nil {
			return s.batchError("BatchPut", []int{i}, err)
		}
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: p.item}}
		dones[i] = p.done
	}
	err := s.batchWrite(ctx, "BatchPut", reqs)
	var be *BatchError
	errors.As(err, &be)
	for i, done := range dones {
		if be == nil || !slices.Contains(be.Failed, i) && !slices.Contains(be.Unknown, i) {
			done()
		}
	}
	return err
}

// BatchDelete deletes the items with the given keys, as BatchPut writes: in
// BatchWriteItem requests of 25 on a Store without a version attribute, as
// conditional DeleteItem requests (Delete's semantics) on one with. A
// delete cannot prove it was its own: an item whose delete got no definite
// answer is in the BatchError's Unknown, gone or not.
func (s *Store[T]) BatchDelete(ctx context.Context, keys []T) error {
	if s.version != nil {
		return s.eachConditional(ctx, "BatchDelete", len(keys), func(i int) error {
			return s.delete(ctx, &keys[i], writeConfig{})
		})
	}
	reqs := make([]types.WriteRequest, len(keys))
	for i := range keys {
		km, err := s.keyOf(&keys[i])
		if err != nil {
			return s.batchError("BatchDelete", []int{i}, err)
		}
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: km}}
	}
	return s.batchWrite(ctx, "BatchDelete", reqs)
}

// batchWrite sends write requests in BatchWriteItem calls of 25 and retries
// unprocessed ones.
func (s *Store[T]) batchWrite(ctx context.Context, op string, reqs []types.WriteRequest) error {
	index := make(map[string]int, len(reqs)) // key ID -> index into reqs
	idOf := func(r types.WriteRequest) (string, error) {
		if r.PutRequest != nil {
			return s.keyID(r.PutRequest.Item)
		}
		return s.keyID(r.DeleteRequest.Key)
	}
	for i, r := range reqs {
		id, err := idOf(r)
		if err != nil {
			return s.batchError(op, []int{i}, err)
		}
		if j, dup := index[id]; dup {
			return s.batchError(op, []int{j, i}, fmt.Errorf("items %d and %d have the same key", j, i))
		}
		index[id] = i
	}
	// notDone fails the requests pending, unless sent in a request whose
	// outcome is unknown, and the ones from later on, never sent.
	notDone := func(pending []types.WriteRequest, unknown bool, later int, err error) error {
		var sent, failed []int
		for _, r := range pending {
			id, _ := idOf(r)
			sent = append(sent, index[id])
		}
		if !unknown {
			failed, sent = sent, nil
		}
		for i := later; i < len(reqs); i++ {
			failed = append(failed, i)
		}
		return newBatchError(op, s.table, failed, sent, err)
	}
	for start := 0; start < len(reqs); start += batchWriteMax {
		end := min(start+batchWriteMax, len(reqs))
		pending := reqs[start:end]
		for attempt := 1; len(pending) > 0; attempt++ {
			rec := newAttempts()
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: pending},
			}, rec.options()...)
			if err != nil {
				if rec.landedMaybe() {
					err = fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
				}
				return notDone(pending, rec.landedMaybe(), end, err)
			}
			pending = out.UnprocessedItems[s.table]
			if len(pending) > 0 {
				if err := writeBackoff.Wait(ctx, attempt); err != nil {
					return notDone(pending, false, end, err)
				}
			}
		}
	}
	return nil
}

// eachConditional runs do(i) for i in [0, n) a few at a time and reports
// the ones that failed, and those whose outcome is unknown.
func (s *Store[T]) eachConditional(ctx context.Context, op string, n int, do func(i int) error) error {
	var (
		mu              sync.Mutex
		failed, unknown []int
		firstErr        error
		wg              sync.WaitGroup
		next            = make(chan int)
	)
	for w := 0; w < min(versionedBatchWorkers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					mu.Lock()
					if errors.Is(err, ErrOutcomeUnknown) {
						unknown = append(unknown, i)
					} else {
						failed = append(failed, i)
					}
					if firstErr == nil {
						firstErr = fmt.Errorf("item %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return newBatchError(op, s.table, failed, unknown, firstErr)
	}
	return nil
}
