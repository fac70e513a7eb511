package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log"
	"net/http"

	"github.com/dynacrypt/dynacrypt"
)

// User is the article's user record. The API token is the secret.
type User struct {
	ID       string `dynamodbav:"id" json:"id"`
	Username string `dynamodbav:"username" json:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms" json:"token,omitempty"`
	Version  int64  `dynamodbav:"version" json:"version"`
}

// API is the article's user service: create, read, update and delete users.
//
// It holds two Stores over the same table, as the article's least-privilege
// split has two functions: users may encrypt and decrypt (create, update,
// read with ?token=true), profiles reads with SkipDecryption and needs no
// KMS permission at all.
type API struct {
	users    *dynacrypt.Store[User]
	profiles *dynacrypt.Store[User]
}

// Handler routes the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /users", a.create)
	mux.HandleFunc("GET /users/{id}", a.read)
	mux.HandleFunc("PUT /users/{id}", a.update)
	mux.HandleFunc("DELETE /users/{id}", a.remove)
	return mux
}

type userInput struct {
	Username string `json:"username"`
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var in userInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Username == "" {
		http.Error(w, "want {\"username\": ...}", http.StatusBadRequest)
		return
	}
	u := &User{ID: randomHex(8), Username: in.Username, Token: randomHex(16)}
	if err := a.users.Put(r.Context(), u); err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusCreated, u) // the only response that shows the token unasked
}

func (a *API) read(w http.ResponseWriter, r *http.Request) {
	key := User{ID: r.PathValue("id")}
	var u *User
	var err error
	if r.URL.Query().Get("token") == "true" {
		u, err = a.users.Get(r.Context(), key)
	} else {
		u, err = a.profiles.Get(r.Context(), key, dynacrypt.SkipDecryption())
	}
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, u)
}

func (a *API) update(w http.ResponseWriter, r *http.Request) {
	var in userInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Username == "" {
		http.Error(w, "want {\"username\": ...}", http.StatusBadRequest)
		return
	}
	u, err := a.users.Update(r.Context(), User{ID: r.PathValue("id")}, func(u *User) error {
		u.Username = in.Username
		return nil
	})
	if err != nil {
		fail(w, err)
		return
	}
	u.Token = ""
	reply(w, http.StatusOK, u)
}

func (a *API) remove(w http.ResponseWriter, r *http.Request) {
	if err := a.users.Delete(r.Context(), User{ID: r.PathValue("id")}); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail maps dynacrypt's errors to HTTP statuses. Its messages never contain
// plaintext, but they name tables, so only the status goes to the client.
func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, dynacrypt.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, dynacrypt.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, context.Canceled):
		status = 499
	}
	if status >= 500 {
		log.Print(err)
	}
	http.Error(w, http.StatusText(status), status)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
