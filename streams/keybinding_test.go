package streams_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// Member is an item of a table with a partition and a sort key.
type Member struct {
	Org   string `dynamodbav:"org"`
	User  string `dynamodbav:"user"`
	Role  string `dynamodbav:"role"`
	Token string `dynamodbav:"token" encrypt:"kms"`
}

// memberImages writes ana's item twice (before and after a change of
// role) and bob's, both of org acme, and returns the three as stored.
func memberImages(t *testing.T) (store *dynacrypt.Store[Member], cipher *dynacrypttest.Cipher, ana1, ana2, bob map[string]types.AttributeValue) {
	t.Helper()
	db := dynacrypttest.DynamoDB(t)
	cipher = dynacrypttest.NewCipher()
	store = dynacrypttest.NewStore[Member](t, db, dynacrypt.WithPartitionKey("org"), dynacrypt.WithSortKey("user"),
		dynacrypt.WithCipher(cipher))
	write := func(m Member) map[string]types.AttributeValue {
		if err := store.Put(context.Background(), &m); err != nil {
			t.Fatal(err)
		}
		return rawMember(t, db, store.Table(), m.Org, m.User)
	}
	ana1 = write(Member{Org: "acme", User: "ana", Role: "reader", Token: "t-1"})
	ana2 = write(Member{Org: "acme", User: "ana", Role: "admin", Token: "t-2"})
	bob = write(Member{Org: "acme", User: "bob", Role: "reader", Token: "t-3"})
	return store, cipher, ana1, ana2, bob
}

func rawMember(t *testing.T, db *dynamodb.Client, table, org, user string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: memberKeys(org, user), ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem %s/%s: %v, %v", org, user, out, err)
	}
	return out.Item
}

// memberKeys is the Keys of a record of the member org/user.
func memberKeys(org, user string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"org": &types.AttributeValueMemberS{Value: org}, "user": &types.AttributeValueMemberS{Value: user},
	}
}

// TestRecordKeyBoundToImage: a record's Key is the key of the item whose
// images were verified. Keys are not signed, so a record whose Keys leave
// out a key attribute, add one, are missing, or name another item than an
// image, and a MODIFY whose Old and New images are of two items, fail with
// ErrIntegrity: someone who can write the stream could otherwise replay
// genuine images under the key of another item (or a zero key), and the
// consumer would act on that item. It holds for the old image as for the
// new (a REMOVE carries only the old), and with SkipDecryption too, which
// does not verify the images but still refuses a Key that is not theirs.
// A refusal costs no Cipher call.
func TestRecordKeyBoundToImage(t *testing.T) {
	store, cipher, ana1, ana2, bob := memberImages(t)
	anaKeys := memberKeys("acme", "ana")
	orgOnly := map[string]types.AttributeValue{"org": anaKeys["org"]}
	// Keys with one more attribute, equal to the image's.
	withRole := func(role string) map[string]types.AttributeValue {
		keys := maps.Clone(anaKeys)
		keys["role"] = &types.AttributeValueMemberS{Value: role}
		return keys
	}

	type change struct {
		event, view    string
		keys, old, new map[string]types.AttributeValue
	}
	insert := func(keys map[string]types.AttributeValue) change {
		return change{streams.Insert, streams.NewAndOldImages, keys, nil, ana1}
	}
	modify := func(keys, old, new map[string]types.AttributeValue) change {
		return change{streams.Modify, streams.NewAndOldImages, keys, old, new}
	}
	remove := func(keys, old map[string]types.AttributeValue) change {
		return change{streams.Remove, streams.NewAndOldImages, keys, old, nil}
	}
	keysOnly := func(event string, keys map[string]types.AttributeValue) change {
		return change{event, streams.KeysOnly, keys, nil, nil}
	}
	accepted := map[string]change{
		"insert":           insert(anaKeys),
		"modify":           modify(anaKeys, ana1, ana2),
		"remove":           remove(anaKeys, ana2),
		"keys-only/insert": keysOnly(streams.Insert, anaKeys),
		"keys-only/remove": keysOnly(streams.Remove, anaKeys),
		"new-image/modify": {streams.Modify, streams.NewImage, anaKeys, nil, ana2},
		"old-image/modify": {streams.Modify, streams.OldImage, anaKeys, ana1, nil},
		"old-image/remove": {streams.Remove, streams.OldImage, anaKeys, ana2, nil},
		"new-image/insert": {streams.Insert, streams.NewImage, anaKeys, nil, ana1},
		"keys-only/modify": keysOnly(streams.Modify, anaKeys),
	}
	refused := map[string]change{
		"insert/no-keys":                   insert(nil),
		"insert/no-sort-key":               insert(orgOnly),
		"insert/extra-key-attribute":       insert(withRole("reader")),
		"insert/keys-of-another-item":      insert(memberKeys("acme", "bob")),
		"modify/no-keys":                   modify(nil, ana1, ana2),
		"modify/no-sort-key":               modify(orgOnly, ana1, ana2),
		"modify/old-and-new-of-two-items":  modify(nil, bob, ana2),
		"modify/keys-and-new-of-another":   modify(anaKeys, bob, ana2),
		"modify/keys-and-old-of-another":   modify(anaKeys, ana1, bob),
		"remove/no-keys":                   remove(nil, ana2),
		"remove/no-sort-key":               remove(orgOnly, ana2),
		"remove/extra-key-attribute":       remove(withRole("admin"), ana2),
		"remove/keys-and-old-of-two-items": remove(anaKeys, bob),
		"old-image/modify/keys-of-another": {streams.Modify, streams.OldImage, anaKeys, bob, nil},
		"keys-only/no-keys":                keysOnly(streams.Insert, nil),
		"keys-only/no-sort-key":            keysOnly(streams.Remove, orgOnly),
		"keys-only/extra-key-attribute":    keysOnly(streams.Modify, withRole("admin")),
	}
	record := func(c change) streamstest.Record {
		return streamstest.Record{EventName: c.event, SequenceNumber: streamstest.SequenceNumber(1), ViewType: c.view,
			Table: store.Table(), Keys: c.keys, Old: c.old, New: c.new}
	}
	for _, skip := range []bool{false, true} {
		var opts []dynacrypt.ReadOption
		mode := "verified"
		if skip {
			opts, mode = []dynacrypt.ReadOption{dynacrypt.SkipDecryption()}, "skip-decryption"
		}
		for _, v := range vias[Member]() {
			for name, c := range accepted {
				t.Run(mode+"/"+v.name+"/accepted/"+name, func(t *testing.T) {
					got := v.decodeWith(t, store, opts, record(c))
					if got[0].err != nil {
						t.Fatal(got[0].err)
					}
					if want := (Member{Org: "acme", User: "ana"}); got[0].rec.Key != want {
						t.Errorf("Key %+v, want %+v", got[0].rec.Key, want)
					}
					if (got[0].rec.Old != nil) != (c.old != nil) || (got[0].rec.New != nil) != (c.new != nil) {
						t.Errorf("images %+v %+v, want old %v new %v", got[0].rec.Old, got[0].rec.New, c.old != nil, c.new != nil)
					}
				})
			}
			for name, c := range refused {
				t.Run(mode+"/"+v.name+"/refused/"+name, func(t *testing.T) {
					before := cipher.Decrypts()
					got := v.decodeWith(t, store, opts, record(c))
					checkRecordError(t, got[0], store.Table(), streamstest.SequenceNumber(1), "Keys", dynacrypt.ErrIntegrity)
					if n := cipher.Decrypts() - before; n != 0 {
						t.Errorf("the refusal cost %d Cipher Decrypts, want 0", n)
					}
				})
			}
		}
	}
}

// TestImageStreamRecordWithoutItsImagesRefused: someone who can write the
// stream takes a record of a NEW_AND_OLD_IMAGES stream, drops its images
// and puts another item's Keys in: a REMOVE of bob that never happened,
// say. With no image left, nothing would bind Key, and a consumer that
// deletes what a REMOVE names would delete bob's derived data. The same
// goes for an INSERT or MODIFY whose images were dropped, and for a REMOVE
// that carries a genuine new image (an INSERT replayed as a removal),
// which a REMOVE never has. A record whose view type promises images its
// event must have, but which lacks them, or which has an image its event
// cannot have, is ErrIntegrity.
func TestImageStreamRecordWithoutItsImagesRefused(t *testing.T) {
	store, _, ana1, _, _ := memberImages(t)
	bobKeys := memberKeys("acme", "bob")
	cases := map[string]streamstest.Record{
		"new-and-old/remove-without-old-image": {EventName: streams.Remove, ViewType: streams.NewAndOldImages, Keys: bobKeys},
		"old-image/remove-without-old-image":   {EventName: streams.Remove, ViewType: streams.OldImage, Keys: bobKeys},
		"new-and-old/insert-without-new-image": {EventName: streams.Insert, ViewType: streams.NewAndOldImages, Keys: bobKeys},
		"new-image/modify-without-new-image":   {EventName: streams.Modify, ViewType: streams.NewImage, Keys: bobKeys},
		"new-and-old/remove-with-new-image":    {EventName: streams.Remove, ViewType: streams.NewAndOldImages, Keys: memberKeys("acme", "ana"), New: ana1},
	}
	for _, v := range vias[Member]() {
		for name, rec := range cases {
			t.Run(v.name+"/"+name, func(t *testing.T) {
				rec.SequenceNumber, rec.Table = streamstest.SequenceNumber(1), store.Table()
				got := v.decode(t, store, rec)
				if !errors.Is(got[0].err, dynacrypt.ErrIntegrity) {
					t.Errorf("record decoded with Key %+v, old %v, new %v, error %v; want ErrIntegrity",
						got[0].rec.Key, got[0].rec.Old, got[0].rec.New, got[0].err)
				}
			})
		}
	}
}
