package main

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/dynacrypt/dynacrypt"
)

// demo is `users -demo`: the library's promises shown one at a time, on the
// users service's Store and on three more tables of what the service could
// add. Each step checks what it shows and fails the demo if it does not
// hold.
type demo struct {
	*story
	env   *env
	count *perFieldCount // what the article's approach would have cost

	users   *dynacrypt.Store[User]
	ana     User // as step 1 stored her
	signIns *dynacrypt.Store[SignIn]
	tenants *tenantsDemo
}

// demoMain runs the demo against the servers the SDK's endpoint variables
// name, writing it to w. The users table is table; the demo's other tables
// are named after it.
func demoMain(ctx context.Context, w io.Writer, table, keyID string) error {
	d := &demo{story: &story{w: w}}
	// Nothing is logged in a run that goes as described; should anything
	// be, it appears captioned, in the step it belongs to.
	defer log.SetOutput(log.Writer())
	defer log.SetFlags(log.Flags())
	log.SetOutput(d.story)
	log.SetFlags(0)

	fmt.Fprint(w, `dynacrypt, shown on examples/users: the users service of the article "Databases and
Encryption-at-Rest, With Go, DynamoDB and KMS", which calls KMS for every secret field it
writes or reads, here on dynacrypt. dynalite (DynamoDB) and local-kms (KMS) run on loopback:
nothing leaves this machine. Each step says what it is about to show, then shows it; if
anything does not behave as described, the demo stops there with an error.
`)
	e, err := connect(ctx, table, keyID, nil, config.WithLogger(d.story))
	if err != nil {
		return err
	}
	d.env = e
	d.count = newPerFieldCount(e.ddb)
	api, err := e.newAPI(d.count, nil)
	if err != nil {
		return err
	}
	d.users = api.users
	d.count.track(d.users.Table(), d.users.EncryptedAttributes())

	for _, step := range []func(context.Context) error{
		d.putAndGet,          // 1
		d.storedItem,         // 2
		d.editAtRest,         // 3
		d.optimisticLocking,  // 4
		d.beaconLookup,       // 5
		d.queryPages,         // 6
		d.tenantsApart,       // 7
		d.rotationWalk,       // 8
		d.streamRecord,       // 9
		d.kmsRequestsCounted, // 10
	} {
		if err := step(ctx); err != nil {
			return fmt.Errorf("step %d: %w", d.step, err)
		}
	}
	fmt.Fprintln(w, "\nEvery step behaved as described.")
	return nil
}
