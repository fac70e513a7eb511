package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dynacrypt/dynacrypt"
)

// SignIn is one sign-in of a user, a table the users service could add: the
// address it came from is personal data, encrypted, with a beacon so that
// the sign-ins from one address can be found.
type SignIn struct {
	User string    `dynamodbav:"user"`
	At   time.Time `dynamodbav:"at,unixtime"`
	IP   string    `dynamodbav:"ip" encrypt:"kms,beacon=3"`
}

// Steps 5 and 6: lookups on an encrypted field, and pages.

// signInsByIP is the index on the IP address's beacon.
const signInsByIP = "by-ip"

// sharedIP is the address three sign-ins came from.
const sharedIP = "203.0.113.7"

// signInsOf are the demo's sign-ins, by user: 16 addresses, one of them
// (sharedIP) used by ana twice and eve once.
var signInsOf = []struct {
	user string
	ips  []string
}{
	{"u-ana", []string{"203.0.113.1", sharedIP, "203.0.113.2", "203.0.113.3", sharedIP, "203.0.113.4", "203.0.113.5"}},
	{"u-bob", []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5", "198.51.100.6"}},
	{"u-eve", []string{"203.0.113.6", sharedIP, "203.0.113.8", "198.51.100.7", "198.51.100.8"}},
}

// openSignIns makes the sign-ins table and its Store.
func (d *demo) openSignIns(ctx context.Context) error {
	// In a service the beacon key is 32 secret bytes from a secret store,
	// the same in every process for as long as its beacons exist.
	beaconKey := make([]byte, 32)
	rand.Read(beaconKey)
	s, err := dynacrypt.New[SignIn](d.count, d.env.table+"-sign-ins",
		dynacrypt.WithPartitionKey("user"), dynacrypt.WithSortKey("at"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(d.env.kms, d.env.keyID)),
		dynacrypt.WithBeaconKey(beaconKey),
		dynacrypt.WithIndex(signInsByIP, dynacrypt.BeaconAttribute("ip"), ""))
	if err != nil {
		return err
	}
	if err := s.CreateTable(ctx); err != nil {
		return err
	}
	d.signIns = s
	d.count.track(s.Table(), s.EncryptedAttributes())
	return nil
}

func (d *demo) beaconLookup(ctx context.Context) error {
	d.Step("Find items by an encrypted field: a beacon lookup")
	if err := d.openSignIns(ctx); err != nil {
		return err
	}
	d.Say("A sign-ins table: user, time, and the IP address, encrypted. A ciphertext changes on every")
	d.Say("write, so it cannot key an index; a beacon can: a short keyed hash of the plaintext, stored")
	d.Say("in clear, here 3 bits (beacon=3), so that unrelated addresses share one and a beacon alone")
	d.Say("does not tell which address it is. The index by-ip is on the beacon. Sign-ins put, with")
	d.Say("BatchPut:")
	var all []*SignIn
	start := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for _, u := range signInsOf {
		for i, ip := range u.ips {
			all = append(all, &SignIn{User: u.user, At: start.Add(time.Duration(i) * 26 * time.Hour), IP: ip})
		}
	}
	if err := d.signIns.BatchPut(ctx, all); err != nil {
		return err
	}
	for _, u := range signInsOf {
		d.Show("%s: %d sign-ins", u.user, len(u.ips))
	}
	d.Say("Lookup(ctx, SignIn{IP: %q}, %q) queries the index for that address's beacon,", sharedIP, signInsByIP)
	d.Say("verifies and decrypts every item it returns, and drops those of other addresses that share")
	d.Say("the beacon (false positives):")
	before := d.count.reads(d.signIns.Table())
	var found []*SignIn
	for s, err := range d.signIns.Lookup(ctx, SignIn{IP: sharedIP}, signInsByIP) {
		if err != nil {
			return err
		}
		found = append(found, s)
	}
	candidates := d.count.reads(d.signIns.Table()) - before
	// An index without a sort key returns its items in no set order.
	slices.SortFunc(found, func(a, b *SignIn) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.User, b.User))
	})
	d.Show("the index returned %d sign-ins; %d from other addresses were dropped; found:", candidates, candidates-len(found))
	for _, s := range found {
		d.Show("  %s  %s  %s", s.User, s.At.Format(time.DateTime), s.IP)
	}
	if len(found) != 3 {
		return fmt.Errorf("the lookup found %d sign-ins from %s, want 3", len(found), sharedIP)
	}
	for _, s := range found {
		if s.IP != sharedIP {
			return fmt.Errorf("the lookup returned a sign-in from %s", s.IP)
		}
	}
	return nil
}

func (d *demo) queryPages(ctx context.Context) error {
	d.Step("List a user's items a page at a time: Query with a cursor")
	const size = 3
	d.Say("QueryPage lists ana's sign-ins, newest first, %d a page. Each page comes with the cursor", size)
	d.Say("of the next, opaque and signed, which an API hands its client; the last page has none:")
	var cursor, first string
	pages, n := 0, 0
	for {
		page, err := d.signIns.QueryPage(ctx, SignIn{User: "u-ana"}, cursor, size, dynacrypt.Descending())
		if err != nil {
			return err
		}
		pages++
		n += len(page.Items)
		d.Show("page %d:", pages)
		for _, s := range page.Items {
			d.Show("  %s  %s", s.At.Format(time.DateTime), s.IP)
		}
		if page.Next == "" {
			d.Show("  no next cursor: the end")
			break
		}
		d.Show("  next cursor: %s (%d characters)", short(page.Next, 24), len(page.Next))
		if first == "" {
			first = page.Next
		}
		cursor = page.Next
	}
	if want := len(signInsOf[0].ips); n != want || pages != (want+size-1)/size {
		return fmt.Errorf("%d sign-ins in %d pages, want %d in pages of %d", n, pages, want, size)
	}
	d.Say("A client that edits its cursor (one character of its signature) is refused:")
	edited := []byte(first)
	edited[len(edited)-2] ^= 1
	_, err := d.signIns.QueryPage(ctx, SignIn{User: "u-ana"}, string(edited), size, dynacrypt.Descending())
	d.Show("QueryPage with the edited cursor: %s", brief(err))
	if !errors.Is(err, dynacrypt.ErrInvalidCursor) {
		return fmt.Errorf("an edited cursor: %v, want ErrInvalidCursor", err)
	}
	return nil
}
