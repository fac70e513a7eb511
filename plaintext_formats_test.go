package dynacrypt_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/testenv"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// The item formats a Store can encrypt a table of plaintext items into:
// dynacrypt's, and DB-ESDK's (dbesdk.Format), whose items are sealed by
// two attributes, a header and a footer.
const (
	dynacryptFormat = "dynacrypt"
	dbesdkFormat    = "dbesdk"
	dbesdkHeader    = "aws_dbe_head"
	dbesdkFooter    = "aws_dbe_foot"
)

// inEachFormat runs test, as a subtest named for the format, on a table of
// n plaintext items whose Stores write dynacrypt's format, then on another
// whose Stores write DB-ESDK's under the AWS KMS keyring: so that
// pt.kmsReqs counts the requests for data keys too, and a forgery that
// reached a key unwrap, or got signed, would show there.
func inEachFormat(t *testing.T, n int, test func(t *testing.T, pt *plaintextTable)) {
	for _, format := range []string{dynacryptFormat, dbesdkFormat} {
		t.Run(format, func(t *testing.T) {
			pt := newPlaintextTable(t, n)
			if format == dbesdkFormat {
				client := testenv.KMS(t, func(o *kms.Options) { o.HTTPClient = &http.Client{Transport: pt.kmsReqs} })
				kr, err := dbesdk.KMSKeyring(client, testrig.KeyARN(testrig.KeyBID))
				if err != nil {
					t.Fatal(err)
				}
				pt.writeDBESDK(kr)
				pt.kmsPerItem = 1
			}
			test(t, pt)
		})
	}
}

// writeDBESDK makes the table's Stores write DB-ESDK's format with kr, in
// the suite without ECDSA (0x6700); the manifest is still signed with the
// Cipher's root keys.
func (pt *plaintextTable) writeDBESDK(kr *dbesdk.Keyring) {
	pt.base = append(pt.base, dbesdk.Format(kr, dbesdk.WithSuite(dbesdk.SuiteSymSig)))
	pt.header, pt.footer = dbesdkHeader, dbesdkFooter
}

// seals returns the attributes that seal an item the Stores write: its
// header, and its footer if its format has one.
func (pt *plaintextTable) seals() []string {
	if pt.footer == "" {
		return []string{pt.header}
	}
	return []string{pt.header, pt.footer}
}

// unseal removes every seal of an encrypted item.
func (pt *plaintextTable) unseal(item map[string]types.AttributeValue) {
	for _, a := range pt.seals() {
		delete(item, a)
	}
}

// strip removes attrs from the stored shopper id.
func (pt *plaintextTable) strip(t testing.TB, id string, attrs ...string) {
	t.Helper()
	item := pt.raw(t, id)
	for _, a := range attrs {
		delete(item, a)
	}
	rawPut(t, pt.db, pt.table, item)
}
