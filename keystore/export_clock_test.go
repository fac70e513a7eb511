package keystore

import "time"

// SetKeyStoreClock replaces the clock a KeyStore stamps new versions with,
// for tests of machines whose clocks disagree.
func SetKeyStoreClock(ks *KeyStore, now func() time.Time) { ks.now = now }
