package walkui

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dynacrypt/dynacrypt"
)

func TestBar(t *testing.T) {
	p := dynacrypt.ReencryptProgress{Scanned: 50, Rewritten: 40, Skipped: 9, Failed: 1}
	for _, tc := range []struct {
		total int64
		want  string
	}{
		{0, "50 scanned, 40 rewritten, 9 skipped, 1 failed"},
		{100, "[###############...............] of about 100: 50 scanned, 40 rewritten, 9 skipped, 1 failed"},
		{10, "[##############################] of about 10: 50 scanned, 40 rewritten, 9 skipped, 1 failed"},
	} {
		if got := Bar(p, tc.total); got != tc.want {
			t.Errorf("Bar(total %d) = %q, want %q", tc.total, got, tc.want)
		}
	}
}

// TestWriteFile: the file is replaced whole, and no temporary file is left.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "checkpoint")
	for _, data := range []string{"first, longer than the second", "second"} {
		if err := WriteFile(file, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(file); err != nil || string(got) != data {
			t.Fatalf("read back %q, %v; want %q", got, err, data)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want 1", len(entries))
	}
}
