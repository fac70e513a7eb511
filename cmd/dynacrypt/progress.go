package main

import (
	"fmt"
	"strings"

	"github.com/dynacrypt/dynacrypt"
)

// bar draws a walk's progress line. total is DynamoDB's estimate of the
// table's items (updated about every six hours), 0 if unknown.
func bar(p dynacrypt.ReencryptProgress, total int64) string {
	const width = 30
	counts := fmt.Sprintf("%d scanned, %d rewritten, %d skipped, %d failed", p.Scanned, p.Rewritten, p.Skipped, p.Failed)
	if total <= 0 {
		return counts
	}
	done := int(min(p.Scanned, total) * width / total)
	return fmt.Sprintf("[%s%s] of about %d: %s", strings.Repeat("#", done), strings.Repeat(".", width-done), total, counts)
}
