package main

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// Member is a user of a customer organisation (a tenant), in the table a
// multi-tenant users service would keep.
type Member struct {
	Org     string `dynamodbav:"org"`
	ID      string `dynamodbav:"id"`
	Email   string `dynamodbav:"email" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// tenantsDemo is the key store and the members' Store of steps 7 and 8.
type tenantsDemo struct {
	ks          *keystore.KeyStore
	kmsRequests *countingTransport // the key store's
	cipher      *keystore.Cipher
	members     *dynacrypt.Store[Member]
}

// The key store's KMS key: another than the users table's, as an operator
// would keep them apart.
const keyStoreKMSKey = "alias/dynacrypt-test-b"

// membersOf are the demo's members, by tenant.
var membersOf = []struct {
	org string
	ids []string
}{
	{"acme", []string{"m-1", "m-2", "m-3"}},
	{"globex", []string{"m-1", "m-2"}},
}

// Steps 7 and 8: tenants under a key store, and a branch key rotated.

func (d *demo) tenantsApart(ctx context.Context) error {
	d.Step("Tenants kept apart under a key store, and one shredded")
	d.Say("A multi-tenant table: organisations acme and globex keep their members in one table.")
	d.Say("A key store (package keystore) keeps branch keys in a DynamoDB table, wrapped by KMS, and")
	d.Say("each tenant has its own. The operator makes the key store and three branch keys: one per")
	d.Say("tenant, and the service's own (for page cursors, which belong to no tenant):")
	kmsClient, kmsRequests := countedKMS(d.env.cfg)
	t := &tenantsDemo{kmsRequests: kmsRequests}
	ks, err := keystore.New(d.env.ddb, d.env.table+"-branch-keys", "demo-branch-keys", kmsClient, keyStoreKMSKey)
	if err != nil {
		return err
	}
	if err := ks.CreateTable(ctx); err != nil {
		return err
	}
	for _, id := range []string{"tenant-acme", "tenant-globex", "members-service"} {
		version, err := ks.Create(ctx, id)
		if err != nil {
			return err
		}
		d.Show("%-15s version %s", id, short(version, 8))
	}
	t.ks = ks
	// Tenant acme's branch key is tenant-acme: prefixed, so that no tenant
	// id names another branch key of the key store.
	if t.cipher, err = keystore.NewCipher(ks, "members-service",
		keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("tenant-"))); err != nil {
		return err
	}
	if t.members, err = dynacrypt.New[Member](d.count, d.env.table+"-members",
		dynacrypt.WithPartitionKey("org"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithTenantAttribute("org"),
		dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(t.cipher)); err != nil {
		return err
	}
	if err := t.members.CreateTable(ctx); err != nil {
		return err
	}
	d.count.track(t.members.Table(), t.members.EncryptedAttributes())
	d.tenants = t

	d.Say("WithTenantAttribute(\"org\") names each item's tenant. Members are put; the header of each")
	d.Say("names the branch key its root key is wrapped under:")
	for _, o := range membersOf {
		for _, id := range o.ids {
			m := &Member{Org: o.org, ID: id, Email: id + "@" + o.org + ".example"}
			if err := t.members.Put(ctx, m); err != nil {
				return err
			}
			branch, version, err := d.wrappedUnder(ctx, o.org, id)
			if err != nil {
				return err
			}
			d.Show("%-6s %s: %s version %s", o.org, id, branch, short(version, 8))
			if branch != "tenant-"+o.org {
				return fmt.Errorf("%s's member is under branch key %s", o.org, branch)
			}
		}
	}

	d.Say("Someone copies acme's m-3 into globex's partition, as stored but for the org attribute.")
	d.Say("Read as globex's, it is refused, before any key is fetched:")
	item, err := d.rawItem(ctx, t.members.Table(), memberKey("acme", "m-3"))
	if err != nil {
		return err
	}
	copied := maps.Clone(item)
	copied["org"] = &types.AttributeValueMemberS{Value: "globex"}
	if _, err := d.env.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.members.Table()), Item: copied}); err != nil {
		return err
	}
	_, err = t.members.Get(ctx, Member{Org: "globex", ID: "m-3"})
	d.Show("Get globex m-3: %s", brief(err))
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		return fmt.Errorf("an item copied under another tenant: %v, want ErrIntegrity", err)
	}
	if _, err := d.env.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(t.members.Table()), Key: memberKey("globex", "m-3")}); err != nil {
		return err
	}

	d.Say("globex leaves, and the operator shreds its branch key (KeyStore.Delete). Processes keep")
	d.Say("the keys they hold for up to their caches' TTL; this one is told to forget them at once:")
	if err := ks.Delete(ctx, "tenant-globex"); err != nil {
		return err
	}
	t.cipher.Forget("tenant-globex")
	t.members.ForgetRootKeys("globex")
	d.Show(`ks.Delete(ctx, "tenant-globex"); cipher.Forget("tenant-globex"); members.ForgetRootKeys("globex")`)
	d.Say("globex's members are gone for good, in the table and in every backup of it (ErrKeyGone);")
	d.Say("acme's still read:")
	for _, o := range membersOf {
		for _, id := range o.ids {
			m, err := t.members.Get(ctx, Member{Org: o.org, ID: id})
			switch {
			case o.org == "globex" && errors.Is(err, dynacrypt.ErrKeyGone):
				d.Show("%-6s %s: %s", o.org, id, brief(err))
			case o.org == "acme" && err == nil:
				d.Show("%-6s %s: %s", o.org, id, m.Email)
			default:
				return fmt.Errorf("reading %s %s after globex was shredded: %v", o.org, id, err)
			}
		}
	}
	return nil
}

func (d *demo) rotationWalk(ctx context.Context) error {
	t := d.tenants
	d.Step("Rotate a branch key, then walk the items onto the new version")
	d.Say("KeyStore.Rotate makes a new version of acme's branch key active. Older versions stay, so")
	d.Say("what they protect still reads. Versions of tenant-acme:")
	if _, err := t.ks.Rotate(ctx, "tenant-acme"); err != nil {
		return err
	}
	t.cipher.Forget("tenant-acme") // other processes learn within their cache TTL
	versions, err := t.ks.Versions(ctx, "tenant-acme")
	if err != nil {
		return err
	}
	active := ""
	for _, v := range versions {
		state := "older, still readable"
		if v.Active {
			state, active = "active", v.Version
		}
		d.Show("%s  made %s  %s", short(v.Version, 8), v.CreateTime.Format("15:04:05.000"), state)
	}
	d.Say("acme's members are still under the older version:")
	ids := membersOf[0].ids
	show := func() (under map[string]string, err error) {
		under = map[string]string{}
		for _, id := range ids {
			m, err := t.members.Get(ctx, Member{Org: "acme", ID: id})
			if err != nil {
				return nil, err
			}
			_, version, err := d.wrappedUnder(ctx, "acme", id)
			if err != nil {
				return nil, err
			}
			under[id] = version
			d.Show("acme %s: item version %d, under branch key version %s", id, m.Version, short(version, 8))
		}
		return under, nil
	}
	before, err := show()
	if err != nil {
		return err
	}
	d.Say("The walk (Store.Reencrypt, of tenant acme only) rewraps each under the new version:")
	p, err := t.members.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "acme"})
	if err != nil {
		return err
	}
	d.Show("walk: %d read, %d rewritten, %d already current", p.Scanned, p.Rewritten, p.Skipped)
	d.Say("After it, each is under the new version, at its next item version (a client holding the")
	d.Say("old one as an ETag finds its copy stale):")
	after, err := show()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if before[id] == active || after[id] != active {
			return fmt.Errorf("acme %s: under %s before the walk and %s after, the active version is %s", id, before[id], after[id], active)
		}
	}
	d.Say("Run again, the walk finds nothing to do:")
	p, err = t.members.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "acme"})
	if err != nil {
		return err
	}
	d.Show("walk: %d read, %d rewritten, %d already current", p.Scanned, p.Rewritten, p.Skipped)
	if p.Rewritten != 0 {
		return fmt.Errorf("the second walk rewrote %d items", p.Rewritten)
	}
	return nil
}

func memberKey(org, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"org": &types.AttributeValueMemberS{Value: org},
		"id":  &types.AttributeValueMemberS{Value: id},
	}
}

// wrappedUnder returns the branch key and version a member's root key is
// wrapped under, from the header as stored (FORMAT.md §3), as an operator
// would look it up.
func (d *demo) wrappedUnder(ctx context.Context, org, id string) (branch, version string, err error) {
	item, err := d.rawItem(ctx, d.tenants.members.Table(), memberKey(org, id))
	if err != nil {
		return "", "", err
	}
	b, ok := item[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB)
	if !ok {
		return "", "", fmt.Errorf("%s %s has no header", org, id)
	}
	h, err := header.Parse(b.Value)
	if err != nil {
		return "", "", err
	}
	branch, version, ok = keystore.WrappedBy(h.Wrapped)
	if !ok {
		return "", "", fmt.Errorf("%s %s: the root key is not wrapped by a key store", org, id)
	}
	return branch, version, nil
}
