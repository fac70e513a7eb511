package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// perFieldCount is the DynamoDB client of the demo's Stores. It counts what
// the article's approach would have cost for the same requests: a KMS
// Encrypt per encrypted value of every item written (failed conditional
// writes included: the value is encrypted before PutItem) and a KMS Decrypt
// per encrypted value of every item read.
type perFieldCount struct {
	*dynamodb.Client // CreateTable and DescribeTable too, for the Stores' CheckTable

	mu        sync.Mutex
	encrypted map[string][]string // the encrypted attributes of each table counted
	encrypts  int
	decrypts  int
	itemsRead map[string]int
}

func newPerFieldCount(c *dynamodb.Client) *perFieldCount {
	return &perFieldCount{Client: c, encrypted: map[string][]string{}, itemsRead: map[string]int{}}
}

// track counts the requests for table, whose encrypted attributes are attrs.
func (c *perFieldCount) track(table string, attrs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.encrypted[table] = attrs
}

// values returns how many of table's encrypted attributes item holds.
func (c *perFieldCount) values(table string, item map[string]types.AttributeValue) int {
	n := 0
	for _, attr := range c.encrypted[table] {
		if _, ok := item[attr]; ok {
			n++
		}
	}
	return n
}

func (c *perFieldCount) wrote(table string, items ...map[string]types.AttributeValue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, item := range items {
		c.encrypts += c.values(table, item)
	}
}

func (c *perFieldCount) read(table string, items ...map[string]types.AttributeValue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, item := range items {
		c.decrypts += c.values(table, item)
		c.itemsRead[table]++
	}
}

// reads returns how many items of table were read so far.
func (c *perFieldCount) reads(table string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.itemsRead[table]
}

// article returns the KMS requests the article's approach would have made.
func (c *perFieldCount) article() (encrypts, decrypts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.encrypts, c.decrypts
}

func (c *perFieldCount) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := c.Client.GetItem(ctx, in, optFns...)
	if err == nil && out.Item != nil {
		c.read(*in.TableName, out.Item)
	}
	return out, err
}

func (c *perFieldCount) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.wrote(*in.TableName, in.Item)
	return c.Client.PutItem(ctx, in, optFns...)
}

func (c *perFieldCount) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.Client.Query(ctx, in, optFns...)
	if err == nil {
		c.read(*in.TableName, out.Items...)
	}
	return out, err
}

func (c *perFieldCount) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	out, err := c.Client.Scan(ctx, in, optFns...)
	if err == nil {
		c.read(*in.TableName, out.Items...)
	}
	return out, err
}

func (c *perFieldCount) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out, err := c.Client.BatchGetItem(ctx, in, optFns...)
	if err == nil {
		for table, items := range out.Responses {
			c.read(table, items...)
		}
	}
	return out, err
}

func (c *perFieldCount) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for table, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				c.wrote(table, r.PutRequest.Item)
			}
		}
	}
	return c.Client.BatchWriteItem(ctx, in, optFns...)
}

func (c *perFieldCount) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil {
			c.wrote(*it.Put.TableName, it.Put.Item)
		}
	}
	return c.Client.TransactWriteItems(ctx, in, optFns...)
}

func (c *perFieldCount) TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	out, err := c.Client.TransactGetItems(ctx, in, optFns...)
	if err == nil {
		for i, r := range out.Responses {
			if i < len(in.TransactItems) && in.TransactItems[i].Get != nil {
				c.read(*in.TransactItems[i].Get.TableName, r.Item)
			}
		}
	}
	return out, err
}

// countedKMS returns a KMS client of cfg and the count of its requests.
func countedKMS(cfg aws.Config) (*kms.Client, *countingTransport) {
	t := &countingTransport{next: awshttp.NewBuildableClient().GetTransport()}
	return kms.NewFromConfig(cfg, func(o *kms.Options) { o.HTTPClient = &http.Client{Transport: t} }), t
}

// countingTransport counts HTTP requests, by KMS operation.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	ops  map[string]int // "Encrypt", "Decrypt", ...
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.ops == nil {
		c.ops = map[string]int{}
	}
	// The operation is the target's last part: "TrentService.Decrypt".
	target := r.Header.Get("X-Amz-Target")
	c.ops[target[strings.LastIndexByte(target, '.')+1:]]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// counts returns the requests made so far, all and by operation.
func (c *countingTransport) counts() (total int, ops map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.ops {
		total += n
	}
	return total, maps.Clone(c.ops)
}

func (d *demo) kmsRequestsCounted(context.Context) error {
	d.Step("KMS requests: this run's, and the article's per-field approach's")
	d.Say("The article calls KMS for each encrypted value it writes (Encrypt) or reads (Decrypt).")
	d.Say("A dynacrypt Store has KMS wrap one root key per 5 minutes and caches the root keys it")
	d.Say("unwraps; under the key store, KMS wraps branch keys only. KMS requests in the whole run:")
	service, serviceOps := d.env.kmsRequests.counts()
	keyStore, keyStoreOps := d.tenants.kmsRequests.counts()
	encrypts, decrypts := d.count.article()
	row := func(what string, total, encrypts, decrypts int) {
		d.Show("%-54s %4d  (%d Encrypt, %d Decrypt)", what, total, encrypts, decrypts)
	}
	row("users and sign-ins (KMSCipher)", service, serviceOps["Encrypt"], serviceOps["Decrypt"])
	row("key store (making 3 branch keys, rotating 1, reading)", keyStore, keyStoreOps["Encrypt"], keyStoreOps["Decrypt"])
	row("all of dynacrypt", service+keyStore, serviceOps["Encrypt"]+keyStoreOps["Encrypt"], serviceOps["Decrypt"]+keyStoreOps["Decrypt"])
	row("the article's approach, for the same writes and reads", encrypts+decrypts, encrypts, decrypts)
	if service+keyStore >= encrypts+decrypts {
		return fmt.Errorf("dynacrypt made %d KMS requests, the article's approach %d", service+keyStore, encrypts+decrypts)
	}
	return nil
}
