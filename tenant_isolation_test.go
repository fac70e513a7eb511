package dynacrypt_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// TestItemMovedBetweenTenantsRefused: an item of one tenant moved to another (its tenant
// attribute changed, or another tenant's header or ciphertexts pasted in)
// is refused; the reader's cached root key of one tenant never opens
// another's item.
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
