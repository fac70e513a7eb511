package minidyn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// Doc is an item of a table of tenants.
type Doc struct {
	Tenant string `dynamodbav:"tenant"`
	ID     string `dynamodbav:"id"`
	Body   string `dynamodbav:"body" encrypt:"kms"`
}

// branchKeys is a key store in memory: one version per tenant, which
// shred deletes as keystore.KeyStore.Delete would.
type branchKeys struct {
	mu   sync.Mutex
	keys map[string]*keystore.BranchKey
}

func (b *branchKeys) create(t *testing.T, id string) {
	material := make([]byte, keystore.KeySize)
	rand.Read(material)
	k, err := keystore.NewBranchKey(id, "00000000000000000000000000000001", time.Now(), material)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys[id] = k
}

func (b *branchKeys) shred(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.keys, id)
}

func (b *branchKeys) ActiveBranchKey(_ context.Context, id string) (*keystore.BranchKey, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k, ok := b.keys[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("branch key %q: %w", id, keystore.ErrBranchKeyNotFound)
}

func (b *branchKeys) BranchKeyVersion(ctx context.Context, id, _ string) (*keystore.BranchKey, error) {
	return b.ActiveBranchKey(ctx, id)
}

// TestTransactGetTenants: transactions of a table of tenants under the key
// store Cipher read each tenant's items; an item copied under another tenant
// fails with ErrIntegrity; after a tenant's branch key is shredded, its
// items fail with ErrKeyGone (not ErrIntegrity) in a transaction too, and
// other tenants' still read. dynalite has no TransactGetItems, hence this
// test on minidyn.
func TestTransactGetTenants(t *testing.T) {
	ctx := context.Background()
	_, db := newServer(t)
	src := &branchKeys{keys: map[string]*keystore.BranchKey{}}
	src.create(t, "acme")
	src.create(t, "globex")
	cipher, err := keystore.NewCipher(src, "")
	if err != nil {
		t.Fatal(err)
	}
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("tenant"), SortKey: dynacrypttest.S("id")})
	docs, err := dynacrypt.New[Doc](db, table, dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithTenantAttribute("tenant"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Doc{{"acme", "1", "acme's"}, {"globex", "1", "globex's"}} {
		if err := docs.Put(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	get := func() (*Doc, *Doc, error) {
		var a, g *Doc
		err := dynacrypt.TransactGet(ctx, db, docs.TxGet(Doc{Tenant: "acme", ID: "1"}, &a), docs.TxGet(Doc{Tenant: "globex", ID: "1"}, &g))
		return a, g, err
	}
	if a, g, err := get(); err != nil || a.Body != "acme's" || g.Body != "globex's" {
		t.Fatalf("TransactGet of both tenants: %+v, %+v, %v", a, g, err)
	}

	// An item sealed for acme, written into globex's partition.
	moved, err := docs.MarshalItem(ctx, &Doc{Tenant: "acme", ID: "3", Body: "acme's other secret"})
	if err != nil {
		t.Fatal(err)
	}
	moved["tenant"] = &types.AttributeValueMemberS{Value: "globex"}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: moved}); err != nil {
		t.Fatal(err)
	}
	var got *Doc
	if err := dynacrypt.TransactGet(ctx, db, docs.TxGet(Doc{Tenant: "globex", ID: "3"}, &got)); !errors.Is(err, dynacrypt.ErrIntegrity) || got != nil {
		t.Errorf("TransactGet of an item moved under another tenant: %+v, %v; want ErrIntegrity", got, err)
	}

	src.shred("acme")
	cipher.Forget("acme")
	docs.ForgetRootKeys("acme")
	_, _, err = get()
	if !errors.Is(err, dynacrypt.ErrKeyGone) || errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("TransactGet with a shredded tenant's item: %v; want ErrKeyGone, not ErrIntegrity", err)
	}
	var g *Doc
	if err := dynacrypt.TransactGet(ctx, db, docs.TxGet(Doc{Tenant: "globex", ID: "1"}, &g)); err != nil || g.Body != "globex's" {
		t.Errorf("globex after acme was shredded: %+v, %v", g, err)
	}
}
