package export_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestOpenFolderRefusesALinkedDataFile: a data file that is a symbolic
// link leads out of the export folder (to another export's file, or any
// file the operator can read), which a copy from S3 never makes: refused,
// as a file outside the data folder is.
func TestOpenFolderRefusesALinkedDataFile(t *testing.T) {
	items := usersItems(t)
	elsewhere := t.TempDir()
	testrig.WriteExportFolder(t, elsewhere, "users", sealedFiles(t, items, 2, 5, 99))
	dir := t.TempDir()
	testrig.WriteExportFolder(t, dir, "users", sealedFiles(t, items, 2, 5, 99))
	name := filepath.Join(dir, "data", "part-01.json.gz")
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(elsewhere, "data", "part-01.json.gz"), name); err != nil {
		t.Fatal(err)
	}
	if _, err := export.OpenFolder(dir); err == nil {
		t.Error("OpenFolder took a data file that links out of the export folder")
	}
}
