package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestAPI drives the service over HTTP against dynalite and local-kms.
func TestAPI(t *testing.T) {
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	testrig.KMS(t) // fails the test under CI without local-kms
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	e, err := connect(ctx, table, testrig.KeyA, nil)
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
