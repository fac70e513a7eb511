package structure

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
)

// layout is what a record's serialization needs to know of the attributes
// a configuration names, worked out once by New rather than for every
// record: their canonical paths and order, and the encryption context keys
// they add. A Store's items have exactly the attributes of its schema, so
// most records take the paths from here, in this order, with no sort.
type layout struct {
	// fast says records may take the paths from here: false when a
	// configured name is too long to write (the general path refuses it).
	fast bool
	// signed are the configured attributes in the signature scope, in
	// canonical path order, with their paths.
	signed []knownAttr
	// unsigned are the configured DO_NOTHING attributes.
	unsigned []string
	// inContext are the SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT attributes,
	// which every record must have.
	inContext []string
	// contextKeys are the encryption context keys ("aws-crypto-attr." and
	// the name) of the key attributes and the inContext ones.
	contextKeys map[string]string
}

// knownAttr is a configured attribute in the signature scope.
type knownAttr struct {
	name   string
	action Action
	path   []byte // canonical path (read only: shared by every record)
}

// newLayout returns the layout of e's configuration, which New has checked.
func newLayout(e *Encryptor) layout {
	var l layout
	l.contextKeys = map[string]string{}
	for _, key := range []string{e.cfg.PartitionKey, e.cfg.SortKey} {
		if key != "" {
			l.contextKeys[key] = attrKeyPrefix + key
		}
	}
	l.fast = true
	for _, name := range slices.Sorted(maps.Keys(e.cfg.Actions)) {
		a := e.cfg.Actions[name]
		l.fast = l.fast && len(name) <= math.MaxUint16
		switch a {
		case DoNothing:
			l.unsigned = append(l.unsigned, name)
			continue
		case SignAndIncludeInEncryptionContext:
			l.inContext = append(l.inContext, name)
			l.contextKeys[name] = attrKeyPrefix + name
		}
		l.signed = append(l.signed, knownAttr{name: name, action: a, path: appendPath(nil, e.cfg.TableName, name, utf16Len(name))})
	}
	slices.SortFunc(l.signed, func(a, b knownAttr) int { return canonicalOrder(a.name, b.name) })
	return l
}

// canonicalOrder compares two top-level attributes' canonical paths. The
// paths share the table name and depth: they order by the name's length
// in UTF-16 code units, then its bytes.
func canonicalOrder(a, b string) int {
	return cmpCanonical(a, utf16Len(a), b, utf16Len(b))
}

func cmpCanonical(a string, aLen int, b string, bLen int) int {
	if c := cmp.Compare(aLen, bLen); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// contextKey returns the encryption context key of an attribute.
func (l *layout) contextKey(name string) string {
	if k, ok := l.contextKeys[name]; ok {
		return k
	}
	return attrKeyPrefix + name
}
