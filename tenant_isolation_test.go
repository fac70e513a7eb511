package dynacrypt_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// In a table of tenants, each tenant's items are under root keys of its
// own. Someone who writes the table tries to pass one tenant's item off as
// another's. The tests of the key store (keystore/tenants_test.go,
// keystore/tenant_mapping_test.go) cover the branch keys behind tenants.

// TestItemMovedBetweenTenantsRefused: someone who writes the table moves
// tenant A's item to tenant B (its tenant attribute changed, retyped or
// dropped), or pastes B's header, ciphertexts or wrapped root key into A's
// item. The tenant is bound to the root key and the signature, so each is
// refused with ErrIntegrity and leaks nothing, though the reader holds both
// tenants' root keys.
func TestItemMovedBetweenTenantsRefused(t *testing.T) {
	aes := newAES(t)
	it := sealingItems(t, aes, []string{"a", "b", "c"}, dynacrypt.WithTenantAttribute("tenant"))
	da, db := secretDoc("u1"), secretDoc("u1")
	da["tenant"], db["tenant"] = strAV("A"), strAV("B")
	sa, sb := mustSeal(t, it, da), mustSeal(t, it, db)
	for _, s := range []map[string]types.AttributeValue{sa, sb} {
		if _, err := it.Open(context.Background(), cloneItem(s)); err != nil {
			t.Fatal(err)
		}
	}
	attacks := map[string]func(av map[string]types.AttributeValue){
		"tenant A→B":            func(av map[string]types.AttributeValue) { av["tenant"] = strAV("B") },
		"tenant dropped":        func(av map[string]types.AttributeValue) { delete(av, "tenant") },
		"tenant as B":           func(av map[string]types.AttributeValue) { av["tenant"] = binAV([]byte("A")) },
		"B's header":            func(av map[string]types.AttributeValue) { av[hdr] = sb[hdr] },
		"B's header and tenant": func(av map[string]types.AttributeValue) { av[hdr], av["tenant"] = sb[hdr], strAV("B") },
		"B's ciphertexts":       func(av map[string]types.AttributeValue) { av["a"], av["b"], av["c"] = sb["a"], sb["b"], sb["c"] },
		"B's wrapped key, tenant A": func(av map[string]types.AttributeValue) {
			av[hdr] = binAV(withWrappedKey(binOf(sa[hdr]), wrappedKey(binOf(sb[hdr]))))
		},
	}
	for name, attack := range attacks {
		av := cloneItem(sa)
		attack(av)
		wantRefused(t, it, name, av, sa)
	}
}
