package noteaudit_test

// These tests are written as a service's own would be: with dynacrypt's
// test kit alone (dynacrypttest and streamstest), on local servers
// (dynalite, local-kms), and no package internal to dynacrypt.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/keystore"
	"github.com/dynacrypt/dynacrypt/streams/examples/noteaudit"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// clinics is the test's world: a key store under a KMS key of its own, a
// branch key per clinic, and the notes service's Store over a fresh table.
type clinics struct {
	t     *testing.T
	db    *dynamodb.Client
	keys  *keystore.KeyStore
	notes *dynacrypt.Store[noteaudit.Note] // the service's
}

func newClinics(t *testing.T, names ...string) *clinics {
	t.Helper()
	ctx := context.Background()
	db := dynacrypttest.DynamoDB(t)
	kmsClient, keyARN := dynacrypttest.KMSKey(t)
	keys := dynacrypttest.NewKeyStore(t, db, kmsClient, keyARN)
	for _, id := range append([]string{noteaudit.ServiceBranchKey}, names...) {
		if _, err := keys.Create(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	cipher, err := noteaudit.NewCipher(keys)
	if err != nil {
		t.Fatal(err)
	}
	notes := dynacrypttest.NewStore[noteaudit.Note](t, db, noteaudit.StoreOptions(cipher)...)
	return &clinics{t, db, keys, notes}
}

// put writes a note with the service's Store and returns it as stored:
// what the stream's images hold.
func (c *clinics) put(n *noteaudit.Note) map[string]types.AttributeValue {
	c.t.Helper()
	if err := c.notes.Put(context.Background(), n); err != nil {
		c.t.Fatal(err)
	}
	return dynacrypttest.StoredItem(c.t, c.db, c.notes, *n)
}

// auditor returns the Lambda function as it starts in a new environment:
// a Store and Cipher of its own over the same table and key store, and a
// trail that the test reads.
func (c *clinics) auditor() (*noteaudit.Auditor, *[]noteaudit.Entry) {
	c.t.Helper()
	cipher, err := noteaudit.NewCipher(c.keys)
	if err != nil {
		c.t.Fatal(err)
	}
	notes, err := dynacrypt.New[noteaudit.Note](c.db, c.notes.Table(), noteaudit.StoreOptions(cipher)...)
	if err != nil {
		c.t.Fatal(err)
	}
	var trail []noteaudit.Entry
	write := func(_ context.Context, e noteaudit.Entry) error {
		trail = append(trail, e)
		return nil
	}
	return &noteaudit.Auditor{Notes: notes, Write: write}, &trail
}

// TestAuditTrail: the auditor writes an entry per change of two clinics'
// notes, tells an edit of the body from one of the author alone, refuses a
// note of one clinic copied into the other's partition, and never puts a
// body in the trail.
func TestAuditTrail(t *testing.T) {
	c := newClinics(t, "clinic-acme", "clinic-globex")
	ana := &noteaudit.Note{Clinic: "acme", ID: "n1", Author: "dr-ana", Body: "acme: patient doing well"}
	created := c.put(ana)
	ana.Body = "acme: patient discharged"
	edited := c.put(ana)
	ana.Author = "dr-bea"
	handedOver := c.put(ana)
	bob := c.put(&noteaudit.Note{Clinic: "globex", ID: "n1", Author: "dr-bob", Body: "globex: new patient"})

	// Someone who can write the table copies acme's note into globex's
	// partition, hoping globex's staff will read it.
	copied := maps.Clone(edited)
	copied["clinic"] = &types.AttributeValueMemberS{Value: "globex"}
	copied["id"] = &types.AttributeValueMemberS{Value: "n2"}
	if err := c.notes.Delete(context.Background(), *ana); err != nil {
		t.Fatal(err)
	}

	records := []streamstest.Record{
		streamstest.Insert(c.notes, created),
		streamstest.Modify(c.notes, created, edited),
		streamstest.Modify(c.notes, edited, handedOver),
		streamstest.Insert(c.notes, bob),
		streamstest.Insert(c.notes, copied),
		streamstest.Remove(c.notes, handedOver),
	}
	a, trail := c.auditor()
	resp, err := a.Handle(context.Background(), streamstest.LambdaEvent(records...))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("response %+v, %v; want no failure", resp, err)
	}
	seq := func(i int) string { return records[i].SequenceNumber }
	want := []noteaudit.Entry{
		{Sequence: seq(0), Clinic: "acme", ID: "n1", Event: "created", Author: "dr-ana"},
		{Sequence: seq(1), Clinic: "acme", ID: "n1", Event: "edited", Author: "dr-ana", BodyChanged: true},
		{Sequence: seq(2), Clinic: "acme", ID: "n1", Event: "edited", Author: "dr-bea"},
		{Sequence: seq(3), Clinic: "globex", ID: "n1", Event: "created", Author: "dr-bob"},
		{Sequence: seq(4), Clinic: "globex", ID: "n2", Event: "refused", Reason: "the record failed verification"},
		{Sequence: seq(5), Clinic: "acme", ID: "n1", Event: "deleted", Author: "dr-bea"},
	}
	if !reflect.DeepEqual(*trail, want) {
		t.Errorf("trail:\n%s\nwant:\n%s", lines(*trail), lines(want))
	}
	if s := fmt.Sprint(*trail); strings.Contains(s, "patient") {
		t.Errorf("a body reached the trail: %s", s)
	}
}

// TestAuditAfterShredding: records of a clinic whose branch key was deleted
// (the clinic left, and its notes were shredded) arrive after the fact:
// they are written as unreadable, not retried for ever, and the other
// clinic's records still go through.
func TestAuditAfterShredding(t *testing.T) {
	c := newClinics(t, "clinic-acme", "clinic-globex")
	acme := c.put(&noteaudit.Note{Clinic: "acme", ID: "n1", Author: "dr-ana", Body: "acme's note"})
	globex := c.put(&noteaudit.Note{Clinic: "globex", ID: "n1", Author: "dr-bob", Body: "globex's note"})
	if err := c.keys.Delete(context.Background(), "clinic-acme"); err != nil {
		t.Fatal(err)
	}
	records := []streamstest.Record{streamstest.Insert(c.notes, acme), streamstest.Insert(c.notes, globex)}
	a, trail := c.auditor()
	resp, err := a.Handle(context.Background(), streamstest.LambdaEvent(records...))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("response %+v, %v; want no failure", resp, err)
	}
	want := []noteaudit.Entry{
		{Sequence: records[0].SequenceNumber, Clinic: "acme", ID: "n1", Event: "unreadable", Reason: "the clinic's key is gone"},
		{Sequence: records[1].SequenceNumber, Clinic: "globex", ID: "n1", Event: "created", Author: "dr-bob"},
	}
	if !reflect.DeepEqual(*trail, want) {
		t.Errorf("trail:\n%s\nwant:\n%s", lines(*trail), lines(want))
	}
}

// TestAuditRetries: when the trail cannot be written, the record is
// reported for Lambda to retry, and the batch stops there.
func TestAuditRetries(t *testing.T) {
	c := newClinics(t, "clinic-acme")
	first := c.put(&noteaudit.Note{Clinic: "acme", ID: "n1", Author: "dr-ana", Body: "one"})
	second := c.put(&noteaudit.Note{Clinic: "acme", ID: "n2", Author: "dr-ana", Body: "two"})
	records := []streamstest.Record{streamstest.Insert(c.notes, first), streamstest.Insert(c.notes, second)}
	a, trail := c.auditor()
	write := a.Write
	a.Write = func(ctx context.Context, e noteaudit.Entry) error {
		if e.ID == "n2" {
			return errors.New("trail unavailable")
		}
		return write(ctx, e)
	}
	resp, err := a.Handle(context.Background(), streamstest.LambdaEvent(records...))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != records[1].SequenceNumber {
		t.Fatalf("response %+v, %v; want the second record to retry", resp, err)
	}
	if len(*trail) != 1 || (*trail)[0].ID != "n1" {
		t.Errorf("trail %v; want the first note's entry alone", *trail)
	}
}

func lines(entries []noteaudit.Entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "  %+v\n", e)
	}
	return b.String()
}
