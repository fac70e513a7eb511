// Command quickstart shows dynacrypt's main job end to end: a struct with an
// encrypted field goes into DynamoDB as ciphertext, comes back as plaintext,
// survives concurrent updates, and costs almost no KMS requests.
//
// It talks to the endpoints in AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_KMS; `make demo` starts local servers and sets them.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

// User is the record of the original article: the API token is secret.
type User struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Logins   int    `dynamodbav:"logins"`
	Version  int64  `dynamodbav:"version"`
}

// countingTransport counts the HTTP requests sent to KMS.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func main() {
	table := flag.String("table", "dynacrypt-quickstart-users", "table to create and use")
	keyID := flag.String("key", "alias/dynacrypt-test", "KMS key to wrap root keys with")
	realAWS := flag.Bool("aws", false, "allow running against real AWS endpoints")
	flag.Parse()
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" && !*realAWS {
		log.Fatal("AWS_ENDPOINT_URL_DYNAMODB is not set: run `make demo`, or pass -aws to use your AWS account")
	}
	if err := run(context.Background(), *table, *keyID); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, table, keyID string) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	ddb := dynamodb.NewFromConfig(cfg)
	kmsRequests := &countingTransport{next: awshttp.NewBuildableClient().GetTransport()}
	kmsClient := kms.NewFromConfig(cfg, func(o *kms.Options) { o.HTTPClient = &http.Client{Transport: kmsRequests} })

	if err := createTable(ctx, ddb, table); err != nil {
		return err
	}
	users, err := dynacrypt.New[User](ddb, table,
		dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, keyID)))
	if err != nil {
		return err
	}

	fmt.Println("1. Put three users; their tokens are encrypted before they leave the process.")
	for i, name := range []string{"ana", "bob", "eve"} {
		u := &User{ID: fmt.Sprintf("u%d", i+1), Username: name, Token: "tok-" + name + "-8c1f20d4"}
		if err := users.Delete(ctx, User{ID: u.ID}); err != nil { // left by an earlier run
			return err
		}
		if err := users.Put(ctx, u); err != nil {
			return err
		}
	}

	fmt.Println("\n2. What the table holds for u1 (a plain GetItem, as a dump or console shows it):")
	raw, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table,
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u1"}}})
	if err != nil {
		return err
	}
	printRaw(raw.Item)

	fmt.Println("\n3. What the service reads back with Store.Get:")
	u, err := users.Get(ctx, User{ID: "u1"})
	if err != nil {
		return err
	}
	fmt.Printf("   %+v\n", *u)

	fmt.Println("\n4. 40 concurrent Store.Update calls, each adding one login to u1:")
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := users.Update(ctx, User{ID: "u1"}, func(u *User) error { u.Logins++; return nil })
			if err != nil {
				failed.Add(1)
				log.Print(err)
			}
		}()
	}
	wg.Wait()
	u, err = users.Get(ctx, User{ID: "u1"}, dynacrypt.ConsistentRead())
	if err != nil {
		return err
	}
	fmt.Printf("   logins = %d, version = %d, failed updates = %d\n", u.Logins, u.Version, failed.Load())

	fmt.Println("\n5. Someone edits the stored item behind the service's back:")
	raw.Item["username"] = &types.AttributeValueMemberS{Value: "mallory"}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: raw.Item}); err != nil {
		return err
	}
	_, err = users.Get(ctx, User{ID: "u1"}, dynacrypt.ConsistentRead())
	fmt.Printf("   Get: %v\n   errors.Is(err, ErrIntegrity) = %v\n", err, errors.Is(err, dynacrypt.ErrIntegrity))

	// The article's approach calls KMS once per token written and once per
	// token read: 3 Puts, 3 Gets, and a Get and a Put per Update.
	article := 3 + 3 + 2*40
	fmt.Printf("\n6. KMS requests for this whole run: %d (per-field KMS calls, as in the article: at least %d)\n",
		kmsRequests.n.Load(), article)
	if failed.Load() > 0 || u.Logins != 40 {
		return fmt.Errorf("lost updates: %d logins, %d failures", u.Logins, failed.Load())
	}
	return nil
}

func printRaw(item map[string]types.AttributeValue) {
	names := make([]string, 0, len(item))
	for name := range item {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch v := item[name].(type) {
		case *types.AttributeValueMemberS:
			fmt.Printf("   %-11s S %q\n", name, v.Value)
		case *types.AttributeValueMemberN:
			fmt.Printf("   %-11s N %s\n", name, v.Value)
		case *types.AttributeValueMemberB:
			fmt.Printf("   %-11s B %d bytes: %s...\n", name, len(v.Value), hex.EncodeToString(v.Value[:min(len(v.Value), 24)]))
		default:
			fmt.Printf("   %-11s %T\n", name, v)
		}
	}
}

func createTable(ctx context.Context, ddb *dynamodb.Client, table string) error {
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &table,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return err
	}
	return dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 2*time.Minute)
}
