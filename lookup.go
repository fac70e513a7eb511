package dynacrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/beacon"
	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// Lookup yields the items whose fields equal probe's, through index: an
// index declared with WithIndex whose partition key is the beacon of an
// encrypted field (BeaconAttribute) or a compound beacon. The probe holds the
// values to find, in the fields the beacon is made of:
//
//	for u, err := range users.Lookup(ctx, User{Email: "Ana@Example.com"}, "by-email") {
//
// Lookup queries the index with the probe's beacon, then verifies and
// decrypts every candidate and compares its fields with the probe's (as the
// beacon normalises them), so the false positives a short beacon admits never
// reach the caller. Query's options apply (sort key conditions on the index's
// sort key, Filter, Limit, PageSize), except SkipDecryption, which would leave
// nothing to compare.
//
// In a Store with tenants, a tenant whose beacon key source finds no key
// (ErrKeyGone: with keystore.Cipher.TenantBeaconKey, a tenant whose branch
// key was never created, or was deleted) has no beacons to find: Lookup
// yields nothing, as Get and Query find nothing of a tenant never created.
// (The items of a deleted tenant remain until deleted; read by key or by
// Query, each gives ErrKeyGone.)
func (s *Store[T]) Lookup(ctx context.Context, probe T, index string, opts ...QueryOption) iter.Seq2[*T, error] {
	qc := queryConfigOf(opts)
	return func(yield func(*T, error) bool) {
		r, err := s.lookupRequest(ctx, &probe, index, qc)
		if errors.Is(err, ErrKeyGone) {
			return // the tenant has no beacon key: see noBeaconKey
		}
		if err != nil {
			yield(nil, s.fail("Lookup", err))
			return
		}
		s.run(ctx, r, nil, reporting(qc.report, yield))
	}
}

// LookupPage is Lookup by pages, with cursors as QueryPage's. A page may be
// short before the end only when every candidate after it was a false
// positive. For a tenant without a beacon key (see Lookup) the first page
// is empty and the last, and a cursor, which cannot be checked without the
// key, gives ErrInvalidCursor.
func (s *Store[T]) LookupPage(ctx context.Context, probe T, index, cursor string, size int, opts ...QueryOption) (*Page[T], error) {
	r, err := s.lookupRequest(ctx, &probe, index, queryConfigOf(opts))
	if errors.Is(err, ErrKeyGone) {
		return s.noBeaconKey(cursor)
	}
	if err != nil {
		return nil, s.fail("Lookup", err)
	}
	return s.page(ctx, r, cursor, size)
}

// noBeaconKey is the page of a lookup of a tenant whose beacon key is
// gone: its branch key was never created, or deleted. Such a tenant holds
// no items a lookup can find, so the page is empty and the last. A cursor
// cannot be checked without the beacon key: it is ErrInvalidCursor.
func (s *Store[T]) noBeaconKey(cursor string) (*Page[T], error) {
	if cursor != "" {
		return nil, s.fail("Lookup", fmt.Errorf("%w: the probe's tenant has no beacon key (never created, or deleted) to check it with", ErrInvalidCursor))
	}
	return &Page[T]{Items: []*T{}}, nil
}

// lookupRequest prepares a Lookup: the Query of the partition of probe's
// beacon, and the comparison that removes false positives.
func (s *Store[T]) lookupRequest(ctx context.Context, probe *T, index string, qc queryConfig) (*request, error) {
	if index == "" {
		return nil, errors.New("Lookup needs an index keyed by a beacon")
	}
	if qc.skipDecrypt {
		return nil, errors.New("SkipDecryption does not apply to Lookup: candidates are compared decrypted")
	}
	qc.index = index
	fields, idx, err := s.keysFor(index)
	if err != nil {
		return nil, err
	}
	av, err := attributevalue.MarshalMap(probe)
	if err != nil {
		return nil, err
	}
	tenant, err := s.codec.tenantOf(av)
	if err != nil {
		return nil, fmt.Errorf("a Lookup on a Store with tenants needs the probe's tenant: %w", err)
	}
	keys, err := s.codec.beacons.keysOf(ctx, tenant)
	if err != nil {
		return nil, err
	}
	// The fields whose values the beacon stands for, to compare with the
	// probe's as the beacon normalises them.
	type comparison struct {
		field       string
		lower, trim bool
		want        []byte
	}
	var pk string
	var cmps []comparison
	switch std, cmp := s.codec.beacons.find(fields[0].Attr); {
	case std != nil:
		v, ok := av[std.field]
		if !ok {
			return nil, fmt.Errorf("the probe has no value for %q, which index %q finds by", std.field, index)
		}
		if pk, err = std.value(keys, v); err != nil {
			return nil, err
		}
		cmps = []comparison{{field: std.field, lower: std.Lower, trim: std.Trim}}
	case cmp != nil:
		var ok bool
		if pk, ok, err = cmp.value(keys, av); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("the probe lacks a field of compound beacon %q, which index %q finds by", cmp.attr, index)
		}
		// Plaintext parts are compared too: with a separator longer
		// than a character, two sets of parts can join into one string.
		for _, p := range cmp.parts {
			c := comparison{field: p.field}
			if p.beacon != nil {
				c.lower, c.trim = p.beacon.Lower, p.beacon.Trim
			}
			cmps = append(cmps, c)
		}
	default:
		return nil, fmt.Errorf("index %q: %w", index, errNoBeacon)
	}
	r, err := s.partitionRequest("Lookup", fields, idx, &types.AttributeValueMemberS{Value: pk}, qc)
	if err != nil {
		return nil, err
	}
	if tenant != "" {
		// A cursor of one tenant's Lookup does not resume another's.
		r.tenant = tenant
		r.fingerprint = canonical.AppendName(r.fingerprint, tenant)
	}
	wanted := make([]types.AttributeValue, len(cmps))
	for i := range cmps {
		c := &cmps[i]
		wanted[i] = beacon.Normalize(av[c.field], c.lower, c.trim)
		if c.want, err = canonical.Append(nil, wanted[i]); err != nil {
			return nil, fmt.Errorf("the probe's %q: %w", c.field, err)
		}
	}
	if r.probe, err = canonical.Append(nil, &types.AttributeValueMemberL{Value: wanted}); err != nil {
		return nil, err
	}
	r.match = func(item map[string]types.AttributeValue) bool {
		for _, c := range cmps {
			v, ok := item[c.field]
			if !ok {
				return false
			}
			got, err := canonical.Append(nil, beacon.Normalize(v, c.lower, c.trim))
			if err != nil || !bytes.Equal(got, c.want) {
				return false
			}
		}
		return true
	}
	return r, nil
}

// find returns the standard or compound beacon stored in attr, if any.
func (b *beacons) find(attr string) (*beaconSpec, *compoundSpec) {
	for _, s := range b.standard {
		if s.attr == attr {
			return s, nil
		}
	}
	for _, c := range b.compounds {
		if c.attr == attr {
			return nil, c
		}
	}
	return nil, nil
}
