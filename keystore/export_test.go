package keystore

import "time"

// SetClock replaces the clock of a Cipher's cache, for tests. Call it
// before the Cipher is used.
func SetClock(c *Cipher, now func() time.Time) { c.cache.SetClock(now) }
