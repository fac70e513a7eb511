// Command users is the user API of the original article, built on dynacrypt:
// create, read, update and delete users whose API token is encrypted.
//
//	users -addr 127.0.0.1:8080 -table users -key alias/users
//	users -demo     # against the local servers of `make demo`: shows dynacrypt's promises, one step
//	                # at a time, on the service's Store and three more tables, and exits
//
// While a table still holds users written the legacy way (each token a raw
// KMS ciphertext blob), serve it with -legacy-key, -legacy-until and, once a
// snapshot of the legacy users was taken (dynacrypt snapshot), with
// -legacy-manifest: see docs/operations.md, "Migrating from per-field KMS".
//
// It talks to the endpoints in AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_KMS when they are set, as the AWS SDK does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	table := flag.String("table", "dynacrypt-demo-users", "users table (created if missing)")
	key := flag.String("key", "alias/dynacrypt-test", "KMS key that wraps root keys")
	legacyKey := flag.String("legacy-key", "", "also read users written the legacy way (one KMS blob per token) under this KMS key")
	legacyUntil := flag.String("legacy-until", "", "with -legacy-key: the date (2006-01-02) legacy reading ends")
	manifestFile := flag.String("legacy-manifest", "", "with -legacy-key: the snapshot of the legacy users (dynacrypt snapshot); without it they are read but never migrated")
	demo := flag.Bool("demo", false, "show dynacrypt step by step against local servers, then exit")
	flag.Parse()
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" && *demo {
		log.Fatal("the demo runs against local servers: use `make demo`")
	}
	var legacy *legacyMode
	if *legacyKey != "" {
		until, err := time.Parse(time.DateOnly, *legacyUntil)
		if err != nil {
			log.Fatalf("-legacy-until: %v", err)
		}
		legacy = &legacyMode{key: *legacyKey, until: until}
		if *manifestFile != "" {
			if legacy.manifest, err = os.ReadFile(*manifestFile); err != nil {
				log.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	if *demo {
		if err := demoMain(ctx, os.Stdout, *table, *key); err != nil {
			fmt.Fprintf(os.Stderr, "\nThe demo stopped: %v\n", err)
			os.Exit(1)
		}
		return
	}
	env, err := connect(ctx, *table, *key, legacy)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving the users API on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, env.api.Handler()))
}

// env is the service and what the demo inspects.
type env struct {
	api         *API
	cfg         aws.Config
	ddb         *dynamodb.Client
	kms         *kms.Client
	table       string
	keyID       string
	kmsRequests *countingTransport // every KMS request of the service, for the demo
	denied      *atomic.Int64      // KMS calls the profile reader tried
}

// legacyMode is how the service reads users of the legacy format.
type legacyMode struct {
	key      string
	until    time.Time
	manifest []byte // nil: read, never migrate
}

func (l *legacyMode) option(k dynacrypt.KMSClient) dynacrypt.Option {
	trust := dynacrypt.LegacyUnverified()
	if l.manifest != nil {
		trust = dynacrypt.LegacyManifest(l.manifest)
	}
	return dynacrypt.WithLegacyKMS(k, l.key, dynacrypt.LegacyUntil(l.until), trust)
}

// connect opens the service's clients and Stores, with the SDK's default
// configuration and cfgOpts.
func connect(ctx context.Context, table, keyID string, legacy *legacyMode, cfgOpts ...func(*config.LoadOptions) error) (*env, error) {
	cfg, err := config.LoadDefaultConfig(ctx, cfgOpts...)
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, ddb: dynamodb.NewFromConfig(cfg), table: table, keyID: keyID, denied: new(atomic.Int64)}
	e.kms, e.kmsRequests = countedKMS(cfg)
	if e.api, err = e.newAPI(e.ddb, legacy); err != nil {
		return nil, err
	}
	// At start-up: the table must be what the Store expects. A missing
	// one is made from the Store's configuration (for the demo; production
	// tables come from infrastructure code).
	err = e.api.users.CheckTable(ctx)
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		if err = e.api.users.CreateTable(ctx); err == nil {
			err = e.api.users.CheckTable(ctx)
		}
	}
	return e, err
}

// newAPI opens the service's Stores over db, as a (re)start of the service does.
func (e *env) newAPI(db dynacrypt.DB, legacy *legacyMode) (*API, error) {
	// Renames of one user may race; Update retries them, generously.
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithUpdateAttempts(100)}
	writerOpts := append(opts, dynacrypt.WithCipher(dynacrypt.NewKMSCipher(e.kms, e.keyID)))
	// The profile reader holds no KMS permission: its client refuses every
	// call, and SkipDecryption means it never makes one.
	readerOpts := append(opts, dynacrypt.WithCipher(dynacrypt.NewKMSCipher(noKMS{e.denied}, e.keyID)))
	if legacy != nil {
		writerOpts = append(writerOpts, legacy.option(e.kms))
		readerOpts = append(readerOpts, legacy.option(noKMS{e.denied}))
	}
	users, err := dynacrypt.New[User](db, e.table, writerOpts...)
	if err != nil {
		return nil, err
	}
	profiles, err := dynacrypt.New[User](db, e.table, readerOpts...)
	if err != nil {
		return nil, err
	}
	return &API{users: users, profiles: profiles}, nil
}

// noKMS is the KMS client of a role with no KMS permission.
type noKMS struct{ calls *atomic.Int64 }

var errAccessDenied = errors.New("AccessDeniedException: this role has no KMS permission")

func (n noKMS) Encrypt(context.Context, *kms.EncryptInput, ...func(*kms.Options)) (*kms.EncryptOutput, error) {
	n.calls.Add(1)
	return nil, errAccessDenied
}

func (n noKMS) Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	n.calls.Add(1)
	return nil, errAccessDenied
}
