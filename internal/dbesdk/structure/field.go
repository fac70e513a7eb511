package structure

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
)

// field is a signed attribute of a record: its terminal (type ID and
// value, as DB-ESDK's structured data holds it) and its canonical path.
type field struct {
	name   string
	action Action
	typ    ddbser.TypeID
	value  []byte // plaintext terminal value, or the encrypted one
	path   []byte
}

// serializeFields returns the signed fields of item in canonical path
// order, the order of the legend, the field keys and the canonical hash:
// the attributes to which action gives an action other than DoNothing,
// serialized, with their canonical paths. Serialization errors wrap kind.
func (e *Encryptor) serializeFields(item map[string]types.AttributeValue, kind error, action func(name string) (Action, error)) ([]field, error) {
	fields := make([]field, 0, len(item))
	offsets := make([]int, 0, 3*len(item))
	buf := make([]byte, 0, 2048) // values and paths, sliced once it stops growing
	for name, av := range item {
		a, err := action(name)
		if err != nil {
			return nil, err
		}
		if a == DoNothing {
			continue
		}
		start := len(buf)
		var typ ddbser.TypeID
		if buf, typ, err = ddbser.AppendValue(buf, av); err != nil {
			return nil, fmt.Errorf("%w: attribute %q: %w", kind, name, err)
		}
		mid := len(buf)
		buf = appendPath(buf, e.cfg.TableName, name)
		offsets = append(offsets, start, mid, len(buf))
		fields = append(fields, field{name: name, action: a, typ: typ})
	}
	for i := range fields {
		o := offsets[3*i:]
		fields[i].value, fields[i].path = buf[o[0]:o[1]:o[1]], buf[o[1]:o[2]:o[2]]
	}
	slices.SortFunc(fields, func(a, b field) int { return bytes.Compare(a.path, b.path) })
	return fields, nil
}

// Encryption context keys DB-ESDK adds (encrypt-item.md, "DynamoDB Item
// Base Context"; encrypt-path-structure.md, "Create New Encryption Context
// and CMM").
const (
	tableNameKey     = "aws-crypto-table-name"
	partitionNameKey = "aws-crypto-partition-name"
	sortNameKey      = "aws-crypto-sort-name"
	attrKeyPrefix    = "aws-crypto-attr."
	legendKey        = "aws-crypto-legend"
)

// reproducedContext returns the encryption context entries a reader rebuilds
// from the item rather than the header: the base context of the format
// version and, in version 2, one entry per
// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT attribute and their legend. fields
// are the record's signed fields with their actions.
func (e *Encryptor) reproducedContext(version byte, fields []field) []Pair {
	pairs := make([]Pair, 0, 8)
	pairs = append(pairs, Pair{tableNameKey, e.cfg.TableName}, Pair{partitionNameKey, e.cfg.PartitionKey})
	if e.cfg.SortKey != "" {
		pairs = append(pairs, Pair{sortNameKey, e.cfg.SortKey})
	}
	if version == 1 {
		for _, key := range []string{e.cfg.PartitionKey, e.cfg.SortKey} {
			if f := findField(fields, key); f != nil {
				pairs = append(pairs, Pair{attrKeyPrefix + key, encodeTerminal(f)})
			}
		}
		return pairs
	}
	var inContext []*field
	for i := range fields {
		if fields[i].action == SignAndIncludeInEncryptionContext {
			inContext = append(inContext, &fields[i])
		}
	}
	if len(inContext) == 0 {
		return pairs
	}
	slices.SortFunc(inContext, func(a, b *field) int { return strings.Compare(a.name, b.name) })
	legend := make([]byte, 0, len(inContext))
	for _, f := range inContext {
		value, kind := contextValue(f)
		pairs = append(pairs, Pair{attrKeyPrefix + f.name, value})
		legend = append(legend, kind)
	}
	return append(pairs, Pair{legendKey, string(legend)})
}

func findField(fields []field, name string) *field {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i]
		}
	}
	return nil
}

// contextValue returns a version 2 context value and its legend character
// (encrypt-item.md, "Base Context Value Version 2").
func contextValue(f *field) (string, byte) {
	switch f.typ {
	case ddbser.TypeString:
		return string(f.value), 'S'
	case ddbser.TypeNumber:
		return string(f.value), 'N'
	case ddbser.TypeNull:
		return "null", 'L'
	case ddbser.TypeBool:
		if len(f.value) == 1 && f.value[0] != 0 {
			return "true", 'L'
		}
		return "false", 'L'
	}
	return encodeTerminal(f), 'B'
}

// encodeTerminal returns the base64 of the terminal's type ID and value
// (encrypt-item.md, "Base Context Value Version 1").
func encodeTerminal(f *field) string {
	raw := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(f.value)), uint16(f.typ))
	return base64.StdEncoding.EncodeToString(append(raw, f.value...))
}
