package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

// The article's user record: the token is encrypted, the rest is not.
// This example needs DynamoDB and KMS (or local servers named by
// AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_KMS), so it is compiled but
// not run by go test; `make demo` runs the same steps.
func Example() {
	type User struct {
		ID       string `dynamodbav:"id"`
		Username string `dynamodbav:"username"`
		Token    string `dynamodbav:"token" encrypt:"kms"`
		Version  int64  `dynamodbav:"version"`
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	users, err := dynacrypt.New[User](dynamodb.NewFromConfig(cfg), "users",
		dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kms.NewFromConfig(cfg), "alias/users")))
	if err != nil {
		log.Fatal(err)
	}

	u := &User{ID: "u1", Username: "ana", Token: "s3cret"}
	if err := users.Put(ctx, u); err != nil { // version 0: create, fails if u1 exists
		log.Fatal(err)
	}
	got, err := users.Get(ctx, User{ID: "u1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Username, got.Token, got.Version)

	// Read-modify-write, retried if another writer changed the item meanwhile.
	_, err = users.Update(ctx, User{ID: "u1"}, func(u *User) error {
		u.Username = "ana.b"
		return nil
	})
	if errors.Is(err, dynacrypt.ErrConflict) {
		log.Print("too much contention; try again later")
	}
}

// New checks the item type once, and names the field it cannot work with.
func ExampleNew_validation() {
	type Card struct {
		Number string `dynamodbav:"number" encrypt:"kms"`
		Holder string `dynamodbav:"holder"`
	}
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	_, err := dynacrypt.New[Card](db, "cards", dynacrypt.WithPartitionKey("number"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kms.New(kms.Options{}), "alias/cards")))
	fmt.Println(err)
	// Output:
	// dynacrypt: New[dynacrypt_test.Card] for table "cards": Card.Number: key attribute "number" cannot be encrypted: keys are stored in plaintext to be found
}

// An AESCipher binds the encryption context: a root key wrapped for one
// table does not unwrap for another.
func ExampleNewAESCipher() {
	key := make([]byte, 32) // in real use: 32 random bytes from a secret store
	c, err := dynacrypt.NewAESCipher(key)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	wrapped, _ := c.Encrypt(ctx, []byte("root key"), map[string]string{dynacrypt.TableContextKey: "users"})

	plain, err := c.Decrypt(ctx, wrapped, map[string]string{dynacrypt.TableContextKey: "users"})
	fmt.Printf("%s %v\n", plain, err)
	_, err = c.Decrypt(ctx, wrapped, map[string]string{dynacrypt.TableContextKey: "orders"})
	fmt.Println(errors.Is(err, dynacrypt.ErrIntegrity))
	// Output:
	// root key <nil>
	// true
}

// Store errors name the operation and table, and say what kind of failure
// it was; errors.As still reaches the SDK's exception.
func ExampleOpError() {
	// What Store.Get returns for a missing item.
	err := error(&dynacrypt.OpError{Op: "Get", Table: "users", Kind: dynacrypt.ErrNotFound, Err: dynacrypt.ErrNotFound})
	fmt.Println(err)
	fmt.Println(errors.Is(err, dynacrypt.ErrNotFound))
	// Output:
	// dynacrypt: Get users: item not found
	// true
}

// Query yields items lazily, page by page; breaking out of the loop stops
// the requests. (Compiled, not run: it needs a table.)
func ExampleStore_Query() {
	ctx := context.Background()
	var orders *dynacrypt.Store[Order] // from dynacrypt.New, as in Example

	for o, err := range orders.Query(ctx, Order{Customer: "c1"},
		dynacrypt.SortKeyGreaterThan(100), dynacrypt.Descending(), dynacrypt.Limit(20)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(o.Seq, o.Card) // Card is decrypted
	}
}

// QueryPage serves paged APIs: the cursor goes to the client and comes back
// with the next request, to this process or another.
func ExampleStore_QueryPage() {
	ctx := context.Background()
	var orders *dynacrypt.Store[Order]
	var cursorFromClient string // "" for the first page

	page, err := orders.QueryPage(ctx, Order{Customer: "c1"}, cursorFromClient, 25)
	if errors.Is(err, dynacrypt.ErrInvalidCursor) {
		log.Print("400 Bad Request: the cursor was altered")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(page.Items), page.Next) // send page.Next back to the client
}

// A read-modify-write across two tables: read, change, then commit with the
// versions read. Either both writes happen or neither does.
func ExampleTransact() {
	ctx := context.Background()
	var db dynacrypt.DB // the *dynamodb.Client the stores use
	var users *dynacrypt.Store[User]
	var orders *dynacrypt.Store[Order]

	u, err := users.Get(ctx, User{ID: "u1"}, dynacrypt.ConsistentRead())
	if err != nil {
		log.Fatal(err)
	}
	u.Username = "ana.b"
	err = dynacrypt.Transact(ctx, db,
		users.TxPut(u), // only if still at the version read
		orders.TxDelete(Order{Customer: "c1", Seq: 7}))
	if errors.Is(err, dynacrypt.ErrConflict) {
		log.Print("changed meanwhile: read again and retry")
	}
}

// Migrating a table of the legacy per-field KMS format: a snapshot of the
// legacy items, taken while the table is trusted, then a Store that reads
// (and migrates) only those. (Compiled, not run: it needs a table and KMS.)
func ExampleWithLegacyKMS() {
	ctx := context.Background()
	cfg, _ := config.LoadDefaultConfig(ctx)
	ddb, kmsClient := dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	opts := []dynacrypt.Option{
		dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, "alias/users")),
	}

	// Once, before the migration starts: list the legacy items.
	plain, err := dynacrypt.New[User](ddb, "users", opts...)
	if err != nil {
		log.Fatal(err)
	}
	manifest, n, err := plain.LegacySnapshot(ctx)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d legacy users; keep the manifest with the service's configuration", n)

	// The service, during the migration.
	users, err := dynacrypt.New[User](ddb, "users", append(opts,
		dynacrypt.WithLegacyKMS(kmsClient, "alias/users", // the key the legacy code encrypted under
			dynacrypt.LegacyManifest(manifest),
			dynacrypt.LegacyUntil(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))))...)
	if err != nil {
		log.Fatal(err)
	}
	u, err := users.Get(ctx, User{ID: "u1"}) // a legacy item: token decrypted with KMS as before
	if err != nil {
		log.Fatal(err) // ErrIntegrity for an item the manifest does not list as it is
	}
	fmt.Println(u.Token)
}

// Rotating to a new KMS key: new writes use it, old items stay readable, and
// the walk rewraps them all. (Compiled, not run.)
func ExampleStore_Reencrypt() {
	ctx := context.Background()
	cfg, _ := config.LoadDefaultConfig(ctx)
	cipher := dynacrypt.NewKMSCipher(kms.NewFromConfig(cfg), "alias/users-2026").WithPreviousKeys("alias/users-2025")
	users, err := dynacrypt.New[User](dynamodb.NewFromConfig(cfg), "users",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	progress, err := users.Reencrypt(ctx, dynacrypt.ReencryptOptions{
		Segments: 8,
		Progress: func(p dynacrypt.ReencryptProgress) {
			log.Printf("%d scanned, %d rewritten (checkpoint %s)", p.Scanned, p.Rewritten, p.Checkpoint)
		},
	})
	if err != nil {
		log.Fatal(err) // run again with Checkpoint: progress.Checkpoint to resume
	}
	fmt.Println(progress.Rewritten, "items now under alias/users-2026")
}

// A test can pin down which attributes are secret, so that a field meant to
// be encrypted and left untagged is caught.
func ExampleStore_EncryptedAttributes() {
	type Card struct {
		ID     string `dynamodbav:"id"`
		Number string `dynamodbav:"number" encrypt:"kms"`
		CVC    string `dynamodbav:"cvc" encrypt:"kms"`
		Holder string `dynamodbav:"holder"`
	}
	cards, err := dynacrypt.New[Card](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "cards",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kms.New(kms.Options{}), "alias/cards")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cards.EncryptedAttributes())
	// Output:
	// [cvc number]
}

// At start-up, check that the table is the one the Store expects: a
// forgotten WithSortKey, a key of another type or a missing index is
// reported before any item is written. (Compiled, not run.)
func ExampleStore_CheckTable() {
	ctx := context.Background()
	var orders *dynacrypt.Store[Order] // from dynacrypt.New
	if err := orders.CheckTable(ctx); err != nil {
		log.Fatal(err) // e.g. "...: the table has sort key "seq" (N), the Store none: use WithSortKey("seq")"
	}
}

// The HTTP If-Match pattern: the client sends the version it edited; the
// edit applies only to that version, without a retry, and a stale version
// is 412, a missing item 404. (Compiled, not run.)
func ExampleIfVersion() {
	var users *dynacrypt.Store[User] // from dynacrypt.New, with WithVersion
	http.HandleFunc("PUT /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		version, err := strconv.ParseInt(strings.Trim(r.Header.Get("If-Match"), `"`), 10, 64)
		if err != nil {
			http.Error(w, "If-Match: the version you edited", http.StatusPreconditionRequired)
			return
		}
		u, err := users.Update(r.Context(), User{ID: r.PathValue("id")}, func(u *User) error {
			u.Username = r.FormValue("username")
			return nil
		}, dynacrypt.IfVersion(version))
		switch {
		case errors.Is(err, dynacrypt.ErrStale):
			http.Error(w, "edited by someone else: reload", http.StatusPreconditionFailed)
		case errors.Is(err, dynacrypt.ErrNotFound):
			http.NotFound(w, r)
		case err != nil:
			http.Error(w, "internal error", http.StatusInternalServerError)
		default:
			w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(u.Version, 10)))
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// MarshalItem and UnmarshalItem seal and open items without a request, for
// stream records, exports and hand-made requests; UnmarshalItem verifies as
// Get does.
func ExampleStore_UnmarshalItem() {
	type User struct {
		ID      string `dynamodbav:"id"`
		Name    string `dynamodbav:"name"`
		Token   string `dynamodbav:"token" encrypt:"kms"`
		Version int64  `dynamodbav:"version"`
	}
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32)) // a real key comes from a secret store
	if err != nil {
		log.Fatal(err)
	}
	users, err := dynacrypt.New[User](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "users",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	stored, err := users.MarshalItem(ctx, &User{ID: "u1", Name: "ana", Token: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	_, encrypted := stored["token"].(*types.AttributeValueMemberB)
	fmt.Println("token stored as ciphertext:", encrypted)

	u, err := users.UnmarshalItem(ctx, stored)
	fmt.Println(u.Name, u.Token, u.Version, err)

	stored["name"] = &types.AttributeValueMemberS{Value: "eve"} // tampered with
	_, err = users.UnmarshalItem(ctx, stored)
	fmt.Println(errors.Is(err, dynacrypt.ErrIntegrity))
	// Output:
	// token stored as ciphertext: true
	// ana s3cret 1 <nil>
	// true
}

// A beacon is stored in clear beside the encrypted field: the same short
// value for every spelling that normalises alike, so an index on it finds
// the item without decrypting the table.
func ExampleBeaconAttribute() {
	type Member struct {
		ID    string `dynamodbav:"id"`
		Email string `dynamodbav:"email" encrypt:"kms,beacon=12,lower,trim"`
	}
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32)) // real keys come from a secret store
	if err != nil {
		log.Fatal(err)
	}
	members, err := dynacrypt.New[Member](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "members",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher),
		dynacrypt.WithBeaconKey(make([]byte, 32)),
		dynacrypt.WithIndex("by-email", dynacrypt.BeaconAttribute("email"), ""))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	beacon := func(m *Member) string {
		stored, err := members.MarshalItem(ctx, m)
		if err != nil {
			log.Fatal(err)
		}
		return stored[dynacrypt.BeaconAttribute("email")].(*types.AttributeValueMemberS).Value
	}

	fmt.Println(dynacrypt.BeaconAttribute("email"))
	fmt.Println(beacon(&Member{ID: "m1", Email: "ana@example.com"}))
	fmt.Println(beacon(&Member{ID: "m2", Email: " Ana@Example.COM"}))
	fmt.Println(beacon(&Member{ID: "m3", Email: "bob@example.com"}))
	// Output:
	// _dynacrypt_b_email
	// 9ca
	// 9ca
	// a3e
}

// Lookup finds items by an encrypted field, through a global index on its
// beacon; candidates whose beacon merely collides are dropped after
// decryption. (Compiled, not run: it needs a table.)
func ExampleStore_Lookup() {
	type Member struct {
		ID    string `dynamodbav:"id"`
		Email string `dynamodbav:"email" encrypt:"kms,beacon=12,lower,trim"`
		Name  string `dynamodbav:"name" encrypt:"kms"`
	}
	ctx := context.Background()
	cfg, _ := config.LoadDefaultConfig(ctx)
	var beaconKey []byte // 32 secret bytes, from a secret store or keystore.KeyStore.BeaconKey
	members, err := dynacrypt.New[Member](dynamodb.NewFromConfig(cfg), "members",
		dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kms.NewFromConfig(cfg), "alias/members")),
		dynacrypt.WithBeaconKey(beaconKey),
		dynacrypt.WithIndex("by-email", dynacrypt.BeaconAttribute("email"), ""))
	if err != nil {
		log.Fatal(err)
	}

	for m, err := range members.Lookup(ctx, Member{Email: "Ana@Example.com"}, "by-email") {
		if err != nil {
			log.Fatal(err) // ErrIntegrity if a candidate was tampered with
		}
		fmt.Println(m.ID, m.Name) // exactly the members whose e-mail is ana@example.com
	}
}

// A consumer of items that come with their keys apart, such as stream
// records, checks the keys against the table's key attributes.
func ExampleStore_KeyAttributes() {
	type Member struct {
		Org   string `dynamodbav:"org"`
		User  string `dynamodbav:"user"`
		Token string `dynamodbav:"token" encrypt:"kms"`
	}
	members, err := dynacrypt.New[Member](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "members",
		dynacrypt.WithPartitionKey("org"), dynacrypt.WithSortKey("user"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kms.New(kms.Options{}), "alias/members")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(members.KeyAttributes())
	// Output:
	// [org user]
}
