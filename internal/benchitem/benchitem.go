// Package benchitem is the item every encryption benchmark of the project
// measures (the root package's, package keystore's, the streams module's),
// so that their figures stay comparable in BENCHMARKS.md.
package benchitem

import "strings"

// Item is about 1 KB stored: a key, five plaintext attributes, three
// encrypted fields and a version.
type Item struct {
	ID       string   `dynamodbav:"id"`
	Username string   `dynamodbav:"username"`
	Email    string   `dynamodbav:"email"`
	Plan     string   `dynamodbav:"plan"`
	Logins   int64    `dynamodbav:"logins"`
	Tags     []string `dynamodbav:"tags"`
	Token    string   `dynamodbav:"token" encrypt:"kms"`
	Card     string   `dynamodbav:"card" encrypt:"kms"`
	Notes    string   `dynamodbav:"notes" encrypt:"kms"`
	Version  int64    `dynamodbav:"version"`
}

// New returns the item with key id.
func New(id string) *Item {
	return &Item{
		ID: id, Username: "ana.b", Email: "ana@example.com", Plan: "enterprise",
		Logins: 4242, Tags: []string{"beta", "eu-west", "admin"},
		Token: strings.Repeat("t", 64), Card: "4111111111111111",
		Notes:   strings.Repeat("n", 800),
		Version: 7,
	}
}

// Stored is Item as a Store stores it: its encrypted fields as binaries
// and the header.
type Stored struct {
	ID       string   `dynamodbav:"id"`
	Username string   `dynamodbav:"username"`
	Email    string   `dynamodbav:"email"`
	Plan     string   `dynamodbav:"plan"`
	Logins   int64    `dynamodbav:"logins"`
	Tags     []string `dynamodbav:"tags"`
	Token    []byte   `dynamodbav:"token"`
	Card     []byte   `dynamodbav:"card"`
	Notes    []byte   `dynamodbav:"notes"`
	Version  int64    `dynamodbav:"version,omitempty"`
	Header   []byte   `dynamodbav:"_dynacrypt"`
}
