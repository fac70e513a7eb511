package streams_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// importer is a program that uses dynacrypt.Store and nothing of package
// streams.
const importer = `package main

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
)

type User struct {
	ID    string ` + "`dynamodbav:\"id\"`" + `
	Token string ` + "`dynamodbav:\"token\" encrypt:\"kms\"`" + `
}

func main() {
	cipher, _ := dynacrypt.NewAESCipher(make([]byte, 32))
	_, _ = dynacrypt.New[User](dynamodb.New(dynamodb.Options{}), "users",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
}
`

// TestLambdaStaysOutOfRoot: a module that imports the root package alone
// and is tidied has no aws-lambda-go anywhere in its module graph: that
// dependency is this module's, which is why this module exists. The
// streams module's own graph has it, which shows the check can see it.
//
// It runs the go command offline, where `make test` runs it (GOPROXY=off
// in with-servers.sh's network namespace): the importer needs only what the
// root module needs, which `make deps` downloaded, and its go.sum is the
// root's.
func TestLambdaStaysOutOfRoot(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/importer\n\ngo 1.24.0\n\n" +
		"require github.com/dynacrypt/dynacrypt v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/dynacrypt/dynacrypt => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(goMod), "go.sum": sum, "main.go": []byte(importer)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd(t, dir, "mod", "tidy")
	graph := goCmd(t, dir, "mod", "graph")
	if !strings.Contains(graph, "github.com/dynacrypt/dynacrypt") {
		t.Fatalf("the importer's graph does not list dynacrypt:\n%s", graph)
	}
	if strings.Contains(graph, "aws-lambda-go") {
		t.Errorf("the graph of a module importing only the root package lists aws-lambda-go:\n%s", graph)
	}
	if deps := goCmd(t, dir, "list", "-deps", "."); strings.Contains(deps, "aws-lambda-go") || strings.Contains(deps, "dynacrypt/streams") {
		t.Errorf("the importer builds with:\n%s", deps)
	}
	if own := goCmd(t, ".", "mod", "graph"); !strings.Contains(own, "github.com/aws/aws-lambda-go@") {
		t.Errorf("the streams module's own graph does not list aws-lambda-go: the check sees nothing")
	}
}

// goCmd runs the go command in dir, resolving modules as go.mod says
// (GOFLAGS=-mod=mod) with the environment's GOPROXY, and returns its
// output.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}
