package dynacrypt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// Patient is an item of a table of tenants (clinics), found by e-mail.
type Patient struct {
	Clinic string `dynamodbav:"clinic"`
	ID     string `dynamodbav:"id"`
	Email  string `dynamodbav:"email" encrypt:"kms,beacon=16,lower"`
}

// TestTenantBeaconsFromSharedKey: with tenants and one WithBeaconKey for
// all (no WithTenantBeaconKeys), each tenant's beacons are keyed apart:
// the same e-mail has unrelated beacons under two clinics, and under a
// Store without tenants, so that beacons do not tell which patients of two
// clinics are the same person. Two Stores with the key agree, as lookups
// across processes need.
func TestTenantBeaconsFromSharedKey(t *testing.T) {
	ctx := context.Background()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1"}) // no request is made
	cipher := dynacrypttest.NewCipher()
	open := func(tenants bool) *dynacrypt.Store[Patient] {
		opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id"),
			dynacrypt.WithBeaconKey(beaconKey), dynacrypt.WithCipher(cipher)}
		if tenants {
			opts = append(opts, dynacrypt.WithTenantAttribute("clinic"))
		}
		s, err := dynacrypt.New[Patient](db, "patients", opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withTenants, again, without := open(true), open(true), open(false)
	beacon := func(s *dynacrypt.Store[Patient], clinic, email string) string {
		t.Helper()
		av, err := s.MarshalItem(ctx, &Patient{Clinic: clinic, ID: "p", Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return av[dynacrypt.BeaconAttribute("email")].(*types.AttributeValueMemberS).Value
	}
	const n = 16
	same := map[string]int{}
	for i := range n {
		email := fmt.Sprintf("patient%d@example.com", i)
		acme := beacon(withTenants, "acme", email)
		if beacon(again, "acme", email) != acme {
			t.Fatalf("two Stores with the same key give %s two beacons under acme", email)
		}
		if beacon(withTenants, "globex", email) == acme {
			same["acme and globex"]++
		}
		if beacon(without, "acme", email) == acme {
			same["acme and no tenants"]++
		}
	}
	// 16-bit beacons under unrelated keys: n e-mails collide about
	// n/65536 of the time, two of them about never.
	for pair, k := range same {
		if k > 1 {
			t.Errorf("%s: %d of %d e-mails have the same beacon", pair, k, n)
		}
	}
}
