package structure

import "errors"

// Errors, which the package's errors wrap. They never quote attribute values.
var (
	// ErrInvalidConfig is returned by New for a configuration DB-ESDK
	// would refuse.
	ErrInvalidConfig = errors.New("invalid DB-ESDK item configuration")
	// ErrInvalidItem is returned for a plaintext item that cannot be
	// encrypted under the configuration, or an item that lacks its keys.
	ErrInvalidItem = errors.New("item cannot be encrypted under this configuration")
	// ErrMalformed is returned for a stored item that is not in DB-ESDK's
	// format or does not match the configuration: a malformed header or
	// footer, attributes of the wrong type, a signed attribute set that is
	// not the one written, conflicting encryption contexts.
	ErrMalformed = errors.New("malformed DB-ESDK item")
	// ErrAuthentication is returned for a stored item that fails a
	// cryptographic check: the header commitment, the recipient tag, the
	// signature or an encrypted attribute's AES-GCM tag.
	ErrAuthentication = errors.New("DB-ESDK item does not authenticate")
)
