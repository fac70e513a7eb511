package keystore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/retry"
)

// RotateAttempts bounds how many times Rotate tries to make its version
// active while concurrent rotations of the same branch key win the race.
const RotateAttempts = 20

// absent is the condition of writing a record that must not exist yet.
const absent = "attribute_not_exists(#id)"

// deletePasses bounds how many times Delete lists and removes the records
// of an id while concurrent writers keep adding some.
const deletePasses = 5

// newRecord makes fresh material for a record of type typ and wraps it
// under KMS. The material itself is cleared: the key store only ever holds
// it wrapped.
func (ks *KeyStore) newRecord(ctx context.Context, id, typ, version string, created time.Time) (*record, error) {
	r := &record{id: id, typ: typ, version: version, createTime: formatTime(created)}
	r.created, _ = time.Parse(time.RFC3339Nano, r.createTime)
	var material [KeySize]byte
	defer clear(material[:])
	if _, err := rand.Read(material[:]); err != nil {
		return nil, err
	}
	if err := ks.wrapMaterial(ctx, r, material[:]); err != nil {
		return nil, err
	}
	return r, nil
}

// Create makes a branch key: its first version and its beacon key, each 32
// bytes from crypto/rand wrapped by KMS Encrypt, and returns the version.
// It writes the branch:version:<v> record, then the beacon:ACTIVE record,
// then the branch:ACTIVE record, each only if absent: a branch:ACTIVE
// record exists only for a branch key complete. Create never overwrites a
// branch key: for an id that has records it fails with ErrBranchKeyExists
// (before any KMS request when the id is complete) and removes what it
// wrote.
func (ks *KeyStore) Create(ctx context.Context, id string) (string, error) {
	version, err := ks.create(ctx, id)
	if err != nil {
		return "", &Error{Op: "Create", ID: id, Version: version, Err: err}
	}
	return version, nil
}

func (ks *KeyStore) create(ctx context.Context, id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if item, err := ks.records.Get(ctx, id, typeActive); err != nil {
		return "", err
	} else if item != nil {
		return "", ErrBranchKeyExists
	}
	version, err := newVersion()
	if err != nil {
		return "", err
	}
	now := ks.now()
	branch, err := ks.newRecord(ctx, id, versionType(version), version, now)
	if err != nil {
		return "", err
	}
	beacon, err := ks.newRecord(ctx, id, typeBeacon, "", now)
	if err != nil {
		return "", err
	}
	// undo removes the records written so far, and says so if it cannot.
	undo := func(cause error, written ...*record) error {
		for _, r := range written {
			if err := ks.records.Remove(ctx, r.id, r.typ); err != nil {
				return fmt.Errorf("%w (and removing the %s record it wrote failed: %w)", cause, r.typ, err)
			}
		}
		return cause
	}
	exists := func(err error) error {
		if keytable.ConditionFailed(err) {
			return fmt.Errorf("%w: %w", ErrBranchKeyExists, err)
		}
		return err
	}
	if err := ks.records.Put(ctx, branch.item(), absent, nil); err != nil {
		return "", err
	}
	if err := ks.records.Put(ctx, beacon.item(), absent, nil); err != nil {
		return "", undo(exists(err), branch)
	}
	if err := ks.records.Put(ctx, branch.as(typeActive).item(), absent, nil); err != nil {
		return "", undo(exists(err), beacon, branch)
	}
	return version, nil
}

// Rotate makes a new version of a branch key active and returns it. Root
// keys wrapped from then on (once a Cipher's cache has learnt of it: see
// [Cipher]) use the new version; those wrapped under older versions still
// read, and Store.Reencrypt rewraps them.
//
// It writes the branch:version:<v> record, then replaces the branch:ACTIVE
// record on condition that it still names the version read. When a
// concurrent rotation replaced it first, Rotate reads it again and retries
// with its version, up to RotateAttempts times, then fails with
// ErrRotateConflict; either way no version is lost, and one version only is
// active. A version that lost stays in the table, readable, never used.
//
// Rotate needs a branch:ACTIVE record with a valid version attribute and
// nothing else of it, so it also repairs an ACTIVE record that was altered.
// The new version's create-time is the machine's clock, or just after the
// latest create-time of the branch key's records if that is later (a
// rotation from a clock that was ahead), so that versions are ordered as
// they were made.
func (ks *KeyStore) Rotate(ctx context.Context, id string) (string, error) {
	version, err := ks.rotate(ctx, id)
	if err != nil {
		return "", &Error{Op: "Rotate", ID: id, Version: version, Err: err}
	}
	return version, nil
}

func (ks *KeyStore) rotate(ctx context.Context, id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	current, err := ks.activeVersion(ctx, id)
	if err != nil {
		return "", err
	}
	version, err := newVersion()
	if err != nil {
		return "", err
	}
	created, err := ks.nextCreateTime(ctx, id)
	if err != nil {
		return "", err
	}
	branch, err := ks.newRecord(ctx, id, versionType(version), version, created)
	if err != nil {
		return "", err
	}
	if err := ks.records.Put(ctx, branch.item(), absent, nil); err != nil {
		return "", err
	}
	active := branch.as(typeActive)
	for attempt := 1; ; attempt++ {
		err := ks.replaceActive(ctx, active, current)
		if err == nil || !keytable.ConditionFailed(err) {
			return version, err
		}
		if attempt == RotateAttempts {
			return version, fmt.Errorf("%w: lost %d times, version %s left unused: %w", ErrRotateConflict, attempt, version, err)
		}
		// Full jitter, so that concurrent losers do not collide again.
		if err := rotateBackoff.Wait(ctx, attempt); err != nil {
			return version, err
		}
		if current, err = ks.activeVersion(ctx, id); errors.Is(err, ErrBranchKeyNotFound) {
			// Deleted meanwhile: leave nothing of it behind.
			if rerr := ks.records.Remove(ctx, id, branch.typ); rerr != nil {
				return version, fmt.Errorf("%w (and removing the new version's record failed: %w)", err, rerr)
			}
			return "", err
		} else if err != nil {
			return version, err
		}
	}
}

// nextCreateTime returns the create-time of a new version of id: now, or
// just after the latest create-time of its records if that is later. Cipher
// refuses to wrap under an active version older than one it has read (a
// rollback), so a rotation from a machine whose clock was ahead must not
// make every later rotation from a correct clock look like one.
func (ks *KeyStore) nextCreateTime(ctx context.Context, id string) (time.Time, error) {
	next := ks.now()
	for page, err := range ks.query(ctx, id) {
		if err != nil {
			return time.Time{}, err
		}
		for _, item := range page {
			ct, ok := item[attrCreateTime].(*types.AttributeValueMemberS)
			if !ok {
				continue
			}
			if t, err := time.Parse(time.RFC3339Nano, ct.Value); err == nil && !t.Before(next) {
				next = t.Add(time.Microsecond)
			}
		}
	}
	return next, nil
}

// activeVersion returns the version the branch:ACTIVE record of id names.
func (ks *KeyStore) activeVersion(ctx context.Context, id string) (string, error) {
	item, err := ks.records.Get(ctx, id, typeActive)
	if err != nil {
		return "", err
	}
	if item == nil {
		return "", ErrBranchKeyNotFound
	}
	v, ok := item[attrVersion].(*types.AttributeValueMemberS)
	if !ok || !validVersion(v.Value) {
		return "", invalidRecord(typeActive, "%s missing or not %d lowercase hex digits", attrVersion, versionLen)
	}
	return v.Value, nil
}

// replaceActive writes the branch:ACTIVE record on condition that it names
// version current.
func (ks *KeyStore) replaceActive(ctx context.Context, active *record, current string) error {
	_, err := ks.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &ks.table,
		Item:                      active.item(),
		ConditionExpression:       aws.String("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: current}},
	})
	if err != nil {
		return fmt.Errorf("replacing %s record in %s: %w", typeActive, ks.table, err)
	}
	return nil
}

// Delete shreds a branch key: it removes the material of every version and
// the beacon key. Root keys wrapped under any of its versions no longer
// unwrap, so the items they protect no longer read, wherever their copies
// are: backups and exports of the items' tables included. Backups of the key
// store's own table keep the branch key, until they expire.
//
// Of each version it leaves a record without material (its version, creation
// and shredding times), so that items under it read as ErrBranchKeyShredded:
// a key known deleted, which a Store does not charge to its unwrap limit,
// rather than a key never seen, which forged items could name at will. The
// id can be created again; items under the versions before stay shredded.
// (Where the id itself must not remain, delete those records too; items
// under them then read as ErrBranchKeyNotFound, charged.)
//
// Processes that cached a version of it keep reading for their cache's TTL
// (see [Cipher.Forget]), and a Store keeps the root keys it unwrapped for
// its own WithRootKeyMaxAge.
//
// Delete removes the branch:ACTIVE record first, so that writers and
// rotations stop, then lists the other records, page by page, shreds the
// versions and removes the rest, and lists again until no material is left
// (a version a concurrent Rotate was writing, say). It fails with
// ErrBranchKeyNotFound if the id had no material left to delete.
func (ks *KeyStore) Delete(ctx context.Context, id string) error {
	if err := ks.delete(ctx, id); err != nil {
		return &Error{Op: "Delete", ID: id, Err: err}
	}
	return nil
}

func (ks *KeyStore) delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	out, err := ks.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:    &ks.table,
		Key:          keytable.Key(id, typeActive),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return fmt.Errorf("deleting %s record from %s: %w", typeActive, ks.table, err)
	}
	found := out.Attributes != nil
	for pass := 0; pass < deletePasses; pass++ {
		n := 0
		for page, err := range ks.query(ctx, id) {
			if err != nil {
				return err
			}
			reqs := ks.shreddings(page, id)
			if err := ks.batchWrite(ctx, reqs); err != nil {
				return err
			}
			n += len(reqs)
		}
		if n == 0 {
			if !found {
				return ErrBranchKeyNotFound
			}
			return nil
		}
		found = true
	}
	return fmt.Errorf("records of the branch key kept appearing during %d passes: is it still being rotated?", deletePasses)
}

// shreddings returns the writes that shred a page of id's records: each
// version record replaced by its shredded record, any other record deleted,
// shredded records left as they are.
func (ks *KeyStore) shreddings(page []map[string]types.AttributeValue, id string) []types.WriteRequest {
	var reqs []types.WriteRequest
	now := ks.now()
	for _, item := range page {
		typ, _ := item[attrType].(*types.AttributeValueMemberS)
		if typ == nil || isShredded(item) {
			continue
		}
		if _, isVersion := parseType(typ.Value); isVersion {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: shreddedItem(item, id, typ.Value, now)}})
		} else {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keytable.Key(id, typ.Value)}})
		}
	}
	return reqs
}

// query yields the records of id, a page at a time, read consistently.
func (ks *KeyStore) query(ctx context.Context, id string) iter.Seq2[[]map[string]types.AttributeValue, error] {
	return ks.records.Records(ctx, id)
}

// batchWriteAttempts bounds the BatchWriteItem requests per batch, while
// DynamoDB leaves items unprocessed.
const batchWriteAttempts = 10

// The backoffs of Rotate's lost races and of Delete's unprocessed items.
var (
	rotateBackoff = retry.Backoff{Base: 5 * time.Millisecond, Max: time.Second}
	deleteBackoff = retry.Backoff{Base: 10 * time.Millisecond, Max: time.Second}
)

// batchWrite makes writes of records, 25 a request, retrying what DynamoDB
// leaves unprocessed.
func (ks *KeyStore) batchWrite(ctx context.Context, writes []types.WriteRequest) error {
	for len(writes) > 0 {
		n := min(len(writes), 25)
		reqs := writes[:n:n]
		writes = writes[n:]
		for attempt := 1; len(reqs) > 0; attempt++ {
			out, err := ks.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{ks.table: reqs},
			})
			if err != nil {
				return fmt.Errorf("shredding records in %s: %w", ks.table, err)
			}
			reqs = out.UnprocessedItems[ks.table]
			if len(reqs) == 0 {
				break
			}
			if attempt == batchWriteAttempts {
				return fmt.Errorf("shredding records in %s: %d left unprocessed after %d attempts", ks.table, len(reqs), attempt)
			}
			if err := deleteBackoff.Wait(ctx, attempt); err != nil {
				return err
			}
		}
	}
	return nil
}
