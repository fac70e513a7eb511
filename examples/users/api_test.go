package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// TestAPI drives the service over HTTP against dynalite and local-kms.
func TestAPI(t *testing.T) {
	ctx := context.Background()
	db := dynacrypttest.DynamoDB(t) // skips without a server, fails under CI
	dynacrypttest.KMS(t)
	table := "users-" + randomHex(6) // connect makes it from the schema, and checks it
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	e, err := connect(ctx, table, "alias/dynacrypt-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.api.Handler())
	defer srv.Close()
	c := &client{base: srv.URL}

	var u User
	if err := c.do("POST", "/users", map[string]string{"username": "ana"}, http.StatusCreated, &u); err != nil {
		t.Fatal(err)
	}
	if u.Token == "" || u.Version != 1 {
		t.Fatalf("created %+v", u)
	}
	var profile, secret User
	if err := c.do("GET", "/users/"+u.ID, nil, http.StatusOK, &profile); err != nil || profile.Token != "" || profile.Username != "ana" {
		t.Fatalf("profile read: %+v, %v", profile, err)
	}
	if err := c.do("GET", "/users/"+u.ID+"?token=true", nil, http.StatusOK, &secret); err != nil || secret.Token != u.Token {
		t.Fatalf("token read: %+v, %v", secret, err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.do("PUT", "/users/"+u.ID, map[string]string{"username": "ana.b"}, http.StatusOK, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := c.do("GET", "/users/"+u.ID, nil, http.StatusOK, &profile); err != nil || profile.Version != 11 {
		t.Fatalf("after 10 updates: %+v, %v", profile, err)
	}
	for _, bad := range []struct{ method, path, body string }{{"POST", "/users", ""}, {"PUT", "/users/" + u.ID, ""}} {
		if err := c.do(bad.method, bad.path, map[string]string{"username": bad.body}, http.StatusBadRequest, nil); err != nil {
			t.Error(err)
		}
	}
	if err := c.do("DELETE", "/users/"+u.ID, nil, http.StatusNoContent, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.do("GET", "/users/"+u.ID, nil, http.StatusNotFound, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.do("PUT", "/users/"+u.ID, map[string]string{"username": "x"}, http.StatusNotFound, nil); err != nil {
		t.Fatal(err)
	}
	if e.denied.Load() != 0 {
		t.Errorf("the profile reader made %d KMS calls", e.denied.Load())
	}
}

// TestStartupCheck: a service pointed at a table of another shape refuses
// to start, saying what differs.
func TestStartupCheck(t *testing.T) {
	db := dynacrypttest.DynamoDB(t)
	dynacrypttest.KMS(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id"), SortKey: dynacrypttest.N("created")})
	_, err := connect(context.Background(), table, "alias/dynacrypt-test", nil)
	if !errors.Is(err, dynacrypt.ErrTableMismatch) || !strings.Contains(err.Error(), `sort key "created"`) {
		t.Errorf("start on a table with a sort key: %v, want ErrTableMismatch naming it", err)
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
