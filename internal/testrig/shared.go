package testrig

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedPath returns the path the environment variable env names or, if it
// is not set, the path rel under ../shared/ beside the repository, where
// the project's shared material (DB-ESDK's oracle and vectors) lives. If
// nothing is there it skips tb; under CI (CI set) it fails instead, as a
// missing server does, so that no test passes without what it checks.
func SharedPath(tb testing.TB, what, env string, rel ...string) string {
	tb.Helper()
	path := os.Getenv(env)
	if path == "" {
		_, file, _, _ := runtime.Caller(0) // internal/testrig/shared.go
		path = filepath.Join(append([]string{filepath.Dir(file), "..", "..", "..", "shared"}, rel...)...)
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("%s is not at %s (set %s to its path): %v", what, path, env, err)
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s; CI is set, and this test must not pass without it", msg)
		}
		tb.Skip(msg)
	}
	return path
}
