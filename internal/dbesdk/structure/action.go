package structure

import "fmt"

// Action is a crypto action: what happens to an attribute when its item is
// encrypted (structures.md, "Crypto Action").
type Action uint8

// The crypto actions. The zero Action is invalid, so that a missing entry
// is never mistaken for one.
const (
	// EncryptAndSign encrypts the attribute and signs its ciphertext.
	EncryptAndSign Action = iota + 1
	// SignOnly signs the attribute as it is stored.
	SignOnly
	// SignAndIncludeInEncryptionContext signs the attribute and binds its
	// value into the encryption context that keyrings see (format version
	// 2). A hierarchical keyring's branch key ID supplier can read it
	// there, e.g. to pick a tenant's branch key.
	SignAndIncludeInEncryptionContext
	// DoNothing leaves the attribute out: not encrypted, not signed.
	DoNothing
)

var actionNames = [...]string{
	EncryptAndSign:                    "ENCRYPT_AND_SIGN",
	SignOnly:                          "SIGN_ONLY",
	SignAndIncludeInEncryptionContext: "SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT",
	DoNothing:                         "DO_NOTHING",
}

// ParseAction returns the action DB-ESDK's configurations call s, e.g.
// "ENCRYPT_AND_SIGN".
func ParseAction(s string) (Action, error) {
	for a, name := range actionNames {
		if name != "" && name == s {
			return Action(a), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown crypto action %q", ErrInvalidConfig, s)
}

// String returns DB-ESDK's name of the action.
func (a Action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

func (a Action) valid() bool { return a >= EncryptAndSign && a <= DoNothing }

// legend returns the encrypt legend byte of a signed action.
func (a Action) legend() byte {
	switch a {
	case EncryptAndSign:
		return legendEncrypt
	case SignAndIncludeInEncryptionContext:
		return legendContext
	}
	return legendSign
}

// actionOfLegend returns the action an encrypt legend byte stands for.
func actionOfLegend(b byte) Action {
	switch b {
	case legendEncrypt:
		return EncryptAndSign
	case legendContext:
		return SignAndIncludeInEncryptionContext
	}
	return SignOnly
}
