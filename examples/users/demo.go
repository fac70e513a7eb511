package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

// articleUserPut stores a user the way the original article's userPut does:
// KMS Encrypt of the token under the key with no encryption context, then
// PutItem of id, username and the ciphertext blob.
func articleUserPut(ctx context.Context, e *env, u User) error {
	out, err := e.kms.Encrypt(ctx, &kms.EncryptInput{Plaintext: []byte(u.Token), KeyId: &e.keyID})
	if err != nil {
		return err
	}
	_, err = e.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &e.table,
		Item: map[string]types.AttributeValue{
			"id":       &types.AttributeValueMemberS{Value: u.ID},
			"username": &types.AttributeValueMemberS{Value: u.Username},
			"token":    &types.AttributeValueMemberB{Value: out.CiphertextBlob},
		},
	})
	return err
}

// runDemo serves the API on a loopback port and drives it as a client would,
// printing what is stored next to what the API returns. It fails if anything
// does not behave as documented.
func runDemo(ctx context.Context, e *env) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0") // the service after its restart
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e.api.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	c := &client{base: "http://" + ln.Addr().String()}

	step("1. Create three users (POST /users). The token is generated and shown once.")
	created := make([]User, 3)
	for i, name := range []string{"ana", "bob", "eve"} {
		if err := c.do("POST", "/users", map[string]string{"username": name}, http.StatusCreated, &created[i]); err != nil {
			return err
		}
		fmt.Printf("   %s\n", mustJSON(created[i]))
	}
	ana, bob := created[0], created[1]

	step("2. What DynamoDB holds for ana (a plain GetItem, as a dump, backup or console shows it):")
	raw, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.table,
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: ana.ID}}})
	if err != nil {
		return err
	}
	printRaw(raw.Item)
	if bytes.Contains(raw.Item["token"].(*types.AttributeValueMemberB).Value, []byte(ana.Token)) {
		return fmt.Errorf("the stored token contains the plaintext")
	}

	step("3. What the API returns:")
	var profile, secret User
	if err := c.do("GET", "/users/"+ana.ID, nil, http.StatusOK, &profile); err != nil {
		return err
	}
	fmt.Printf("   GET /users/%s            -> %s   (profile reader: no KMS permission)\n", ana.ID, mustJSON(profile))
	if err := c.do("GET", "/users/"+ana.ID+"?token=true", nil, http.StatusOK, &secret); err != nil {
		return err
	}
	fmt.Printf("   GET /users/%s?token=true -> %s\n", ana.ID, mustJSON(secret))
	if profile.Token != "" || secret.Token != ana.Token {
		return fmt.Errorf("token shown to the profile reader, or not decrypted")
	}

	step("4. 20 concurrent renames of ana (PUT /users/{id}); Update retries on conflict, none is lost:")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.do("PUT", "/users/"+ana.ID, map[string]string{"username": fmt.Sprintf("ana-%02d", i)}, http.StatusOK, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	var after User
	if err := c.do("GET", "/users/"+ana.ID+"?token=true", nil, http.StatusOK, &after); err != nil {
		return err
	}
	fmt.Printf("   now %s\n", mustJSON(after))
	if after.Version != ana.Version+20 || after.Token != ana.Token {
		return fmt.Errorf("version %d after 20 updates of version %d: updates were lost", after.Version, ana.Version)
	}

	step("5. Delete bob (DELETE /users/{id}), then read him:")
	if err := c.do("DELETE", "/users/"+bob.ID, nil, http.StatusNoContent, nil); err != nil {
		return err
	}
	if err := c.do("GET", "/users/"+bob.ID, nil, http.StatusNotFound, nil); err != nil {
		return err
	}
	fmt.Println("   404 Not Found")

	step("6. Migration. The legacy code writes a user (KMS Encrypt of the token, PutItem); the operator")
	fmt.Println("   snapshots the legacy users and restarts the service with WithLegacyKMS and that manifest:")
	legacy := User{ID: "legacy-" + randomHex(4), Username: "old", Token: randomHex(16)}
	if err := articleUserPut(ctx, e, legacy); err != nil {
		return err
	}
	manifest, listed, err := e.api.users.LegacySnapshot(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("   LegacySnapshot: %d legacy user, a signed manifest of %d bytes\n", listed, len(manifest))
	api, err := e.newAPI(&legacyMode{key: e.keyID, until: time.Now().Add(24 * time.Hour), manifest: manifest})
	if err != nil {
		return err
	}
	srv2 := &http.Server{Handler: api.Handler()}
	go srv2.Serve(ln2)
	defer srv2.Close()
	c = &client{base: "http://" + ln2.Addr().String()}
	var got User
	if err := c.do("GET", "/users/"+legacy.ID+"?token=true", nil, http.StatusOK, &got); err != nil {
		return err
	}
	fmt.Printf("   GET the legacy user: %s\n", mustJSON(got))

	fmt.Println("   An attacker with write access to the table removes ana's header, renames her and pastes in")
	fmt.Println("   the legacy user's token blob, to pass the forgery off as a legacy item:")
	anaKey := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: ana.ID}}
	saved, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.table, Key: anaKey})
	if err != nil {
		return err
	}
	forged := maps.Clone(saved.Item)
	delete(forged, "_dynacrypt")
	delete(forged, "version")
	forged["username"] = &types.AttributeValueMemberS{Value: "mallory"}
	legacyRaw, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.table,
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: legacy.ID}}})
	if err != nil {
		return err
	}
	forged["token"] = legacyRaw.Item["token"]
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &e.table, Item: forged}); err != nil {
		return err
	}
	if err := c.do("GET", "/users/"+ana.ID+"?token=true", nil, http.StatusInternalServerError, nil); err != nil {
		return err
	}
	fmt.Println("   GET ana: 500 Internal Server Error (ErrIntegrity: not in the manifest; no KMS request made)")
	if err := c.do("PUT", "/users/"+ana.ID, map[string]string{"username": "mallory-2"}, http.StatusInternalServerError, nil); err != nil {
		return err
	}
	fmt.Println("   PUT ana: 500 as well: Update never signs what the manifest does not vouch for")

	progress, err := api.users.Reencrypt(ctx, dynacrypt.ReencryptOptions{Promoted: func(key map[string]types.AttributeValue) {
		fmt.Printf("   promoted %s\n", key["id"].(*types.AttributeValueMemberS).Value)
	}})
	fmt.Printf("   Reencrypt walk: %d scanned, %d rewritten (%d legacy), %d already current, %d refused: %v\n",
		progress.Scanned, progress.Rewritten, progress.Promoted, progress.Skipped, progress.Failed, err)
	if !errors.Is(err, dynacrypt.ErrIntegrity) || progress.Promoted != 1 || progress.Failed != 1 {
		return fmt.Errorf("the walk should promote the legacy user and refuse the forgery")
	}
	raw, err = e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.table,
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: legacy.ID}}})
	if err != nil {
		return err
	}
	printRaw(raw.Item)
	if got.Token != legacy.Token || raw.Item["_dynacrypt"] == nil {
		return fmt.Errorf("legacy user not read or not migrated")
	}
	fmt.Println("   The operator restores ana from a backup; she reads again:")
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &e.table, Item: saved.Item}); err != nil {
		return err
	}
	if err := c.do("GET", "/users/"+ana.ID+"?token=true", nil, http.StatusOK, &got); err != nil {
		return err
	}
	fmt.Printf("   GET ana: %s\n", mustJSON(got))

	step("7. KMS requests:")
	// The article's code calls KMS once per token written or read: 3
	// creates, 2 token reads, 20 updates (a read and a write each), the
	// legacy user's write and read, and ana's.
	fmt.Printf("   the whole run: %d (the article's code: %d)\n", e.kmsRequests.n.Load(), 3+2+2*20+2+1)
	fmt.Printf("   by the profile reader: %d\n", e.denied.Load())
	if e.denied.Load() != 0 {
		return fmt.Errorf("the profile reader called KMS")
	}
	return nil
}

func step(s string) { fmt.Println("\n" + s) }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
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
		}
	}
}

// client calls the API.
type client struct{ base string }

func (c *client) do(method, path string, body any, wantStatus int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s %s, want %d", method, path, resp.Status, bytes.TrimSpace(msg), wantStatus)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}
