package dynacrypt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// unusedDB is a client New accepts; these tests never send a request.
var unusedDB = dynamodb.New(dynamodb.Options{Region: "us-east-1"})

func newErr[T any](opts ...dynacrypt.Option) error {
	_, err := dynacrypt.New[T](unusedDB, "t", opts...)
	return err
}

// myString is embedded, unexported, by a type New must refuse:
// attributevalue panics on it. Nothing reads it: its presence is the test.
//
//lint:ignore U1000 see above
type myString string

func TestNewRejects(t *testing.T) {
	type EncryptedKey struct {
		ID string `dynamodbav:"id" encrypt:"kms"`
	}
	type UnknownTag struct {
		ID     string `dynamodbav:"id"`
		Secret string `encrypt:"aes"`
	}
	type MapKey struct {
		ID map[string]string `dynamodbav:"id"`
	}
	type BoolKey struct {
		ID bool `dynamodbav:"id"`
	}
	type FloatVersion struct {
		ID string  `dynamodbav:"id"`
		V  float64 `dynamodbav:"v"`
	}
	type StringVersion struct {
		ID string `dynamodbav:"id"`
		V  string `dynamodbav:"v"`
	}
	type Plain struct {
		ID    string `dynamodbav:"id"`
		Token string `dynamodbav:"token" encrypt:"kms"`
	}
	type HeaderClash struct {
		ID  string `dynamodbav:"id"`
		Hdr []byte `dynamodbav:"_dynacrypt"`
	}
	type Duplicate struct {
		ID    string `dynamodbav:"id"`
		Other string `dynamodbav:"id"`
	}
	type Unstored struct {
		ID     string `dynamodbav:"id"`
		Secret string `dynamodbav:"-" encrypt:"kms"`
	}
	type unexported struct{ A string }
	type EncryptedEmbed struct {
		ID         string `dynamodbav:"id"`
		unexported `encrypt:"kms"`
	}
	type Chan struct {
		ID string `dynamodbav:"id"`
		C  chan int
	}
	type embeddedString struct {
		ID       string `dynamodbav:"id"`
		myString        //lint:ignore U1000 its presence is the test
	}
	type TimeSorted struct {
		ID   string    `dynamodbav:"id"`
		When time.Time `dynamodbav:"when"`
	}
	type NestedFunc struct {
		ID string `dynamodbav:"id"`
		M  map[string][]func()
	}
	type Profile struct {
		Email string `dynamodbav:"email" encrypt:"kms"`
	}
	type User struct {
		ID      string  `dynamodbav:"id"`
		Profile Profile `dynamodbav:"profile"`
	}
	type Card struct {
		Number string `dynamodbav:"number" encrypt:"kms"`
	}
	type Wallet struct {
		ID    string          `dynamodbav:"id"`
		Cards []Card          `dynamodbav:"cards"`
		ByID  map[string]Card `dynamodbav:"by_id"`
	}
	type Vault struct {
		ID   string           `dynamodbav:"id"`
		ByID map[string]*Card `dynamodbav:"by_id"`
	}
	type Self struct {
		ID     string `dynamodbav:"id"`
		Secret string `dynamodbav:"secret" encrypt:"kms"`
		Parent *Self  `dynamodbav:"parent"`
	}
	type Misspelled struct {
		ID     string `dynamodbav:"id"`
		Secret string `dynamodbav:"secret" encrypted:"kms"`
	}
	type MisspelledNested struct {
		ID      string `dynamodbav:"id"`
		Profile struct {
			Email string `dynamodbav:"email" Encrypt:"kms"`
		} `dynamodbav:"profile"`
	}
	type Twins struct {
		ID       string `dynamodbav:"id"`
		Username string `dynamodbav:"username"`
		Other    string `dynamodbav:"Username"`
	}
	type BadName struct {
		ID  string `dynamodbav:"id"`
		Bad string `dynamodbav:"\xff"`
	}
	type Tenanted struct {
		ID     string `dynamodbav:"id"`
		Tenant string `dynamodbav:"tenant"`
		Org    int    `dynamodbav:"org"`
		Token  string `dynamodbav:"token" encrypt:"kms"`
	}
	type TenantedPlain struct {
		ID     string `dynamodbav:"id"`
		Tenant string `dynamodbav:"tenant"`
	}
	c := dynacrypt.WithCipher(dynacrypttest.NewCipher())
	pk := dynacrypt.WithPartitionKey("id")
	tenantKeys := dynacrypt.WithTenantBeaconKeys(func(context.Context, string) ([]byte, error) { return nil, nil })
	for _, tc := range []struct {
		name string
		err  error
		want []string // substrings of the message
	}{
		{"encrypted key", newErr[EncryptedKey](pk, c), []string{"EncryptedKey.ID", `"id"`, "cannot be encrypted"}},
		{"unknown tag value", newErr[UnknownTag](pk, c), []string{"UnknownTag.Secret", `"aes"`}},
		{"missing key field", newErr[Plain](dynacrypt.WithPartitionKey("pk"), c), []string{`"pk"`, "not a field", `whose attributes are "id", "token"`}},
		{"missing sort key field", newErr[Plain](pk, dynacrypt.WithSortKey("sk"), c), []string{`"sk"`, "not a field"}},
		{"time sort key", newErr[TimeSorted](pk, dynacrypt.WithSortKey("when")), []string{"TimeSorted.When", "does not sort", `"when,unixtime"`}},
		{"time index sort key", newErr[TimeSorted](pk, dynacrypt.WithIndex("by-time", "id", "when")), []string{"TimeSorted.When", "unixtime"}},
		{"no partition key", newErr[Plain](c), []string{"WithPartitionKey"}},
		{"map key", newErr[MapKey](pk), []string{"MapKey.ID", "string, number or []byte"}},
		{"bool key", newErr[BoolKey](pk), []string{"BoolKey.ID"}},
		{"float version", newErr[FloatVersion](pk, dynacrypt.WithVersion("v")), []string{"FloatVersion.V", "integer"}},
		{"string version", newErr[StringVersion](pk, dynacrypt.WithVersion("v")), []string{"StringVersion.V", "integer"}},
		{"missing version", newErr[Plain](pk, c, dynacrypt.WithVersion("v")), []string{`"v"`, "not a field"}},
		{"encrypted version", newErr[Plain](pk, c, dynacrypt.WithVersion("token")), []string{"Plain.Token"}},
		{"no cipher", newErr[Plain](pk), []string{"Plain.Token", "WithCipher"}},
		{"header clash", newErr[HeaderClash](pk, c), []string{"_dynacrypt", "WithHeaderAttribute"}},
		{"duplicate attribute", newErr[Duplicate](pk), []string{"Duplicate.Other", "Duplicate.ID"}},
		{"encrypted but not stored", newErr[Unstored](pk, c), []string{"Unstored.Secret"}},
		{"encrypted embedded struct", newErr[EncryptedEmbed](pk, c), []string{"EncryptedEmbed.unexported"}},
		{"unsigned encrypted", newErr[Plain](pk, c, dynacrypt.WithUnsignedAttributes("token")), []string{`"token"`, "unsigned"}},
		{"unsigned key", newErr[Plain](pk, c, dynacrypt.WithUnsignedAttributes("id")), []string{`"id"`}},
		{"zero cache size", newErr[Plain](pk, c, dynacrypt.WithKeyCacheSize(0)), []string{"positive"}},
		{"negative age", newErr[Plain](pk, c, dynacrypt.WithRootKeyMaxAge(-time.Second)), []string{"positive"}},
		{"not a struct", newErr[string](pk), []string{"struct"}},
		{"channel field", newErr[Chan](pk), []string{"Chan.C", "chan int"}},
		{"nested func", newErr[NestedFunc](pk), []string{"NestedFunc.M", "func()"}},
		{"unexported embedded non-struct", newErr[embeddedString](pk), []string{"embeddedString.myString", "cannot marshal"}},
		{"encrypt tag in a nested struct", newErr[User](pk, c), []string{"User.Profile.Email", `encrypt:"kms"`, "not applied", "User.Profile"}},
		{"encrypt tag in slice elements", newErr[Wallet](pk, c), []string{"Wallet.Cards[].Number", "not applied"}},
		{"encrypt tag in map values", newErr[Vault](pk, c), []string{"Vault.ByID[].Number", "not applied"}},
		{"encrypt tag in a nested self", newErr[Self](pk, c), []string{"Self.Parent.Secret", "not applied"}},
		{"marshals itself", newErr[selfMarshaler](pk, c), []string{"selfMarshaler", "Marshaler"}},
		{"misspelled encrypt key", newErr[Misspelled](pk, c), []string{"Misspelled.Secret", `"encrypted"`, `encrypt:"kms"`}},
		{"misspelled nested key", newErr[MisspelledNested](pk, c), []string{"MisspelledNested.Profile.Email", `"Encrypt"`}},
		{"case-folded twins", newErr[Twins](pk, c), []string{"Twins.Other", "Twins.Username", `"Username"`, `"username"`}},
		{"attribute name not UTF-8", newErr[BadName](pk, c), []string{"BadName.Bad", "UTF-8"}},
		{"tenant not a field", newErr[Tenanted](pk, c, dynacrypt.WithTenantAttribute("org_id")), []string{`"org_id"`, "not a field"}},
		{"encrypted tenant", newErr[Tenanted](pk, c, dynacrypt.WithTenantAttribute("token")), []string{"Tenanted.Token", "cannot be encrypted"}},
		{"tenant not a string", newErr[Tenanted](pk, c, dynacrypt.WithTenantAttribute("org")), []string{"Tenanted.Org", "must be a string"}},
		{"unsigned tenant", newErr[Tenanted](pk, c, dynacrypt.WithTenantAttribute("tenant"), dynacrypt.WithUnsignedAttributes("tenant")), []string{`"tenant"`, "unsigned"}},
		{"tenant without a cipher", newErr[TenantedPlain](pk, dynacrypt.WithTenantAttribute("tenant")), []string{"WithTenantAttribute", "Cipher"}},
		{"tenant beacon keys without tenants", newErr[Tenanted](pk, c, tenantKeys), []string{"WithTenantBeaconKeys", "WithTenantAttribute"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range append(tc.want, "dynacrypt: New[") {
				if !strings.Contains(tc.err.Error(), w) {
					t.Errorf("error %q does not mention %q", tc.err, w)
				}
			}
		})
	}
}

// selfMarshaler marshals itself, so a Store of it could not see its fields.
type selfMarshaler struct {
	ID string `dynamodbav:"id"`
}

func (*selfMarshaler) UnmarshalDynamoDBAttributeValue(types.AttributeValue) error { return nil }

func TestNewAccepts(t *testing.T) {
	type Embedded struct {
		Created time.Time `dynamodbav:"created"`
	}
	type Tree struct {
		Name  string
		Left  *Tree
		Right []Tree
	}
	type Rich struct {
		Embedded
		Tenant  string    `dynamodbav:"tenant"`
		Seq     int64     `dynamodbav:"seq"`
		Blob    []byte    `dynamodbav:"blob" encrypt:"kms"`
		Count   uint32    `dynamodbav:"count"`
		When    time.Time `dynamodbav:"when,unixtime"`
		Ignored string    `dynamodbav:"-"`
		Skipped chan int  `dynamodbav:"-"`
		Self    *Tree     `dynamodbav:"self"`
		Any     any       `dynamodbav:"any"`
		private string
	}
	for _, opts := range [][]dynacrypt.Option{
		{dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("seq")},
		{dynacrypt.WithPartitionKey("created")},
		{dynacrypt.WithPartitionKey("when"), dynacrypt.WithVersion("count")},
		{dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("when")},
		{dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithUnsignedAttributes("count")},
	} {
		if err := newErr[Rich](append(opts, dynacrypt.WithCipher(dynacrypttest.NewCipher()))...); err != nil {
			t.Error(err)
		}
	}
	_ = Rich{}.private
}
