package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/dynacrypt/dynacrypt"
)

// Steps 1 to 4: one user, through the users service's Store.

func (d *demo) putAndGet(ctx context.Context) error {
	d.Step("Put and Get a user whose API token is encrypted")
	d.Say("User's Token field is tagged `encrypt:\"kms\"`. Put encrypts it and signs the whole item")
	d.Say("before anything leaves the process. It puts ana:")
	ana := &User{ID: "u-ana", Username: "ana", Token: randomHex(16)}
	d.Show("%+v", *ana)
	if err := d.users.Put(ctx, ana); err != nil {
		return err
	}
	d.Say("Get checks the signature, decrypts, and returns her as she was put, now at version 1:")
	got, err := d.users.Get(ctx, User{ID: ana.ID})
	if err != nil {
		return err
	}
	d.Show("%+v", *got)
	if *got != *ana || got.Version != 1 {
		return fmt.Errorf("read back %+v, want %+v", *got, *ana)
	}
	d.ana = *got
	return nil
}

func (d *demo) storedItem(ctx context.Context) error {
	d.Step("The item at rest: what a table dump, a backup or the console shows")
	d.Say("A plain GetItem of ana, without dynacrypt. The token is ciphertext; the header _dynacrypt")
	d.Say("holds the root key wrapped by KMS, a nonce and the signature (binary values cut to 8 bytes):")
	item, err := d.rawItem(ctx, d.users.Table(), userKey(d.ana.ID))
	if err != nil {
		return err
	}
	d.showItem(item)
	for name, v := range item {
		if b, ok := v.(*types.AttributeValueMemberB); ok && bytes.Contains(b.Value, []byte(d.ana.Token)) {
			return fmt.Errorf("attribute %s holds the token in plaintext", name)
		}
	}
	d.Say("The token's %d characters appear in none of them.", len(d.ana.Token))
	return nil
}

func (d *demo) editAtRest(ctx context.Context) error {
	d.Step("Edit any attribute at rest, and the read fails")
	d.Say("Someone who can write the table, but not use the KMS key, renames ana in place: username")
	d.Say("is plaintext, and signed like every attribute. A plain UpdateItem:")
	saved, err := d.rawItem(ctx, d.users.Table(), userKey(d.ana.ID))
	if err != nil {
		return err
	}
	_, err = d.env.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.users.Table()),
		Key:                       userKey(d.ana.ID),
		UpdateExpression:          aws.String("SET username = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: "mallory"}},
	})
	if err != nil {
		return err
	}
	d.Show(`UpdateItem id=%q: SET username = "mallory"`, d.ana.ID)
	d.Say("Get refuses the item, before decrypting anything:")
	_, err = d.users.Get(ctx, User{ID: d.ana.ID})
	d.Show("%v", err)
	d.Show("errors.Is(err, dynacrypt.ErrIntegrity) = %t", errors.Is(err, dynacrypt.ErrIntegrity))
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		return fmt.Errorf("reading the edited item: %v, want ErrIntegrity", err)
	}
	d.Say("The operator puts back the item of step 2 from a backup, and ana reads again:")
	if _, err := d.env.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.users.Table()), Item: saved}); err != nil {
		return err
	}
	got, err := d.users.Get(ctx, User{ID: d.ana.ID})
	if err != nil {
		return err
	}
	d.Show("%+v", *got)
	return nil
}

func (d *demo) optimisticLocking(ctx context.Context) error {
	d.Step("Optimistic locking: a write from a stale copy is refused; Update retries")
	d.Say("Each write carries the version it read. Clients A and B both read ana at version 1.")
	d.Say("A renames her and Puts; B, still holding version 1, Puts its own rename:")
	a, err := d.users.Get(ctx, User{ID: d.ana.ID})
	if err != nil {
		return err
	}
	b := *a
	a.Username = "ana.a"
	if err := d.users.Put(ctx, a); err != nil {
		return err
	}
	d.Show("A: Put username=%q: stored at version %d", a.Username, a.Version)
	b.Username = "ana.b"
	err = d.users.Put(ctx, &b)
	d.Show("B: Put username=%q: %s", b.Username, brief(err))
	if !errors.Is(err, dynacrypt.ErrStale) {
		return fmt.Errorf("writing a stale copy: %v, want ErrStale", err)
	}
	const n = 20
	d.Say("Update reads, applies a function and writes at the version read, again on each conflict.")
	d.Say("%d concurrent Updates, each renaming ana: every one lands, none is lost:", n)
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			_, err := d.users.Update(ctx, User{ID: d.ana.ID}, func(u *User) error {
				u.Username = fmt.Sprintf("ana-%02d", i)
				return nil
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	got, err := d.users.Get(ctx, User{ID: d.ana.ID})
	if err != nil {
		return err
	}
	d.Show("version %d -> %d, username %q, token unchanged: %t", a.Version, got.Version, got.Username, got.Token == d.ana.Token)
	if got.Version != a.Version+n || got.Token != d.ana.Token {
		return fmt.Errorf("after %d Updates of version %d: %+v", n, a.Version, *got)
	}
	d.ana = *got
	return nil
}

func userKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}
}

// rawItem reads an item as stored, without dynacrypt.
func (d *demo) rawItem(ctx context.Context, table string, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := d.env.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%s: no item %v", table, key)
	}
	return out.Item, nil
}
