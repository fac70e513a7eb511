package dynacrypt

import (
	"time"

	"github.com/dynacrypt/dynacrypt/internal/retry"
)

// writeBackoff spaces the attempts of Update, of a batch's unprocessed
// items and of the re-encryption walk.
var writeBackoff = retry.Backoff{Base: 2 * time.Millisecond, Max: 250 * time.Millisecond}
