// Package walkui is what the command that walks a table (cmd/dynacrypt)
// shows and keeps: the progress bar, and files written so that a process
// killed meanwhile leaves the previous one whole.
package walkui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dynacrypt/dynacrypt"
)

// Bar draws a walk's progress line. total is DynamoDB's estimate of the
// table's items (updated about every six hours), 0 if unknown.
func Bar(p dynacrypt.ReencryptProgress, total int64) string {
	const width = 30
	counts := fmt.Sprintf("%d scanned, %d rewritten, %d skipped, %d failed", p.Scanned, p.Rewritten, p.Skipped, p.Failed)
	if total <= 0 {
		return counts
	}
	done := int(min(p.Scanned, total) * width / total)
	return fmt.Sprintf("[%s%s] of about %d: %s", strings.Repeat("#", done), strings.Repeat(".", width-done), total, counts)
}

// WriteFile replaces file with data atomically: it writes a temporary file
// beside it, syncs it and renames it over file, so that a process killed
// while writing leaves the previous file, never half of one.
func WriteFile(file string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
