// Package schema reads a struct type once, the way attributevalue marshals
// it, and records which Go field becomes which attribute and which fields
// are tagged for encryption. dynacrypt does this at New so that no call
// reflects over the type again.
package schema

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
)

// EncryptTag is the struct tag that marks a field for encryption, and
// EncryptKMS its one accepted value.
const (
	EncryptTag = "encrypt"
	EncryptKMS = "kms"
)

// Field is one struct field that marshals to a top-level attribute.
type Field struct {
	Attr      string       // attribute name
	Path      string       // Go path for messages, such as "User.Profile.Email"
	Index     []int        // for reflect.Value.FieldByIndex
	Type      reflect.Type // the field's type
	Encrypted bool         // tagged encrypt:"kms"
	Beacon    *Beacon      // encrypt:"kms,beacon=N,...": a beacon of the field, or nil
	tagOpts   []string     // dynamodbav options after the name
}

// Beacon is a field's beacon, declared in its encrypt tag:
// encrypt:"kms,beacon=16,lower,trim".
type Beacon struct {
	Bits  int  // 1 to 63: how many bits of the HMAC the beacon keeps
	Lower bool // strings are lower-cased before the HMAC
	Trim  bool // strings lose leading and trailing white space first
}

// Schema describes a struct type's attributes.
type Schema struct {
	Type    reflect.Type
	Fields  []Field // in struct order
	byAttr  map[string]int
	dynamic []*Field // plaintext fields that may hold interface values
}

// Parse reads the struct type t. Besides recording its attributes, it
// refuses what would store a secret in plaintext without a word: an encrypt
// tag anywhere but on a top-level field, a misspelled encrypt tag key, a t
// that marshals itself; and attribute names attributevalue would confuse or
// that are not UTF-8.
//
// Errors name Go fields by path, as a selector expression reaches them, with
// "[]" for an element of a slice, array or map, and "[key]" for a map's key;
// pointers are followed silently, as selectors follow them. For example:
// User.Profile.Email, User.Cards[].Number, User.ByID[].Secret.
func Parse(t reflect.Type) (*Schema, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%v is a %v, want a struct", t, t.Kind())
	}
	// attributevalue hands a type that marshals itself to its method, so
	// the attributes, keys and encrypted fields read here would not be
	// what is stored.
	for _, it := range []reflect.Type{marshalerType, unmarshalerType} {
		if t.Implements(it) || reflect.PointerTo(t).Implements(it) {
			return nil, fmt.Errorf("%v implements %v, so its fields would not be stored as the attributes dynacrypt keys, versions, encrypts and signs; use an item type without that method", t, it)
		}
	}
	s := &Schema{Type: t, byAttr: map[string]int{}}
	if err := s.walk(t, nil, t.Name(), inner{seen: map[reflect.Type]bool{}}); err != nil {
		return nil, err
	}
	s.dynamic = s.dynamicFields()
	return s, nil
}

func (s *Schema) walk(t reflect.Type, index []int, path string, in inner) error {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		fpath := path + "." + sf.Name
		if err := checkTag(sf.Tag, fpath); err != nil {
			return err
		}
		tag := sf.Tag.Get("dynamodbav")
		name, opts, _ := strings.Cut(tag, ",")
		if !utf8.ValidString(name) {
			return errNotUTF8(fpath)
		}
		enc, hasEnc := sf.Tag.Lookup(EncryptTag)
		var beacon *Beacon
		if hasEnc {
			var err error
			if beacon, err = parseEncryptTag(enc); err != nil {
				return fmt.Errorf("%s: %w", fpath, err)
			}
		}
		if name == "-" {
			if hasEnc {
				return fmt.Errorf("%s: tagged %s but not stored (dynamodbav:\"-\")", fpath, EncryptTag)
			}
			if err := in.walk(sf.Type, fpath, fpath, false); err != nil {
				return err
			}
			continue
		}
		idx := append(index[:len(index):len(index)], i)

		ft := sf.Type
		if sf.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if hasEnc {
					return fmt.Errorf("%s: %s tag on an embedded struct; tag its fields instead", fpath, EncryptTag)
				}
				if ft.Kind() == reflect.Pointer {
					// attributevalue cannot set fields through a nil
					// embedded pointer, so neither do we.
					return fmt.Errorf("%s: embedded struct pointers are not supported; embed the struct by value", fpath)
				}
				if err := s.walk(et, idx, fpath, in); err != nil {
					return err
				}
				continue
			}
		}
		if !sf.IsExported() {
			if hasEnc {
				return fmt.Errorf("%s: tagged %s but unexported, so never stored", fpath, EncryptTag)
			}
			if sf.Anonymous {
				// attributevalue reads it and panics on the unexported value.
				return fmt.Errorf("%s: embedded unexported %v is not a struct, which attributevalue cannot marshal; tag it dynamodbav:\"-\" or export it", fpath, ft)
			}
			if err := in.walk(ft, fpath, fpath, false); err != nil {
				return err
			}
			continue
		}
		if err := checkMarshalable(ft, map[reflect.Type]bool{}); err != nil {
			return fmt.Errorf("%s: %w", fpath, err)
		}
		if name == "" {
			name = sf.Name
		}
		if j, dup := s.byAttr[name]; dup {
			return fmt.Errorf("%s: attribute name %q is also used by %s", fpath, name, s.Fields[j].Path)
		}
		if f, twin := s.FieldFold(name); twin {
			return fmt.Errorf("%s: attribute name %q differs only in case from %q (%s), and attributevalue matches names regardless of case when reading; rename one", fpath, name, f.Attr, f.Path)
		}
		s.byAttr[name] = len(s.Fields)
		s.Fields = append(s.Fields, Field{
			Attr:      name,
			Path:      fpath,
			Index:     idx,
			Type:      ft,
			Encrypted: hasEnc,
			Beacon:    beacon,
			tagOpts:   strings.Split(opts, ","),
		})
		if err := in.walk(ft, fpath, fpath, hasEnc); err != nil {
			return err
		}
	}
	return nil
}

// inner walks the types inside one top-level field: fields of nested
// structs, of slice, array and map elements and map keys, below pointers,
// also unexported or unstored ones, and below a custom marshaller. dynacrypt
// encrypts a top-level attribute whole or not at all, so an encrypt tag in
// there is never applied; Parse refuses it rather than leave the value in
// plaintext. seen is shared by all of T's fields so that each type is walked
// once and recursive types end; T itself is not in it, so a T nested in its
// own field is walked as the nested value it is.
type inner struct {
	seen map[reflect.Type]bool
}

// walk checks type t, found at path inside the top-level field top.
func (in inner) walk(t reflect.Type, path, top string, topEncrypted bool) error {
	if in.seen[t] {
		return nil
	}
	in.seen[t] = true
	switch t.Kind() {
	case reflect.Pointer:
		return in.walk(t.Elem(), path, top, topEncrypted)
	case reflect.Slice, reflect.Array:
		return in.walk(t.Elem(), path+"[]", top, topEncrypted)
	case reflect.Map:
		if err := in.walk(t.Key(), path+"[key]", top, topEncrypted); err != nil {
			return err
		}
		return in.walk(t.Elem(), path+"[]", top, topEncrypted)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			fpath := path + "." + sf.Name
			if err := checkTag(sf.Tag, fpath); err != nil {
				return err
			}
			if name, _, _ := strings.Cut(sf.Tag.Get("dynamodbav"), ","); !utf8.ValidString(name) {
				return errNotUTF8(fpath)
			}
			if _, ok := sf.Tag.Lookup(EncryptTag); ok && topEncrypted {
				return fmt.Errorf("%s: %s tag not applied: the field is inside %s, which is already encrypted whole; remove this tag", fpath, EncryptTag, top)
			} else if ok {
				return fmt.Errorf("%s: %s tag not applied: only top-level fields are encrypted, never a field inside one; tag %s %s:%q instead to encrypt it whole", fpath, EncryptTag, top, EncryptTag, EncryptKMS)
			}
			if err := in.walk(sf.Type, fpath, top, topEncrypted); err != nil {
				return err
			}
		}
	}
	return nil
}

// Field returns the field stored as attribute attr.
func (s *Schema) Field(attr string) (*Field, bool) {
	i, ok := s.byAttr[attr]
	if !ok {
		return nil, false
	}
	return &s.Fields[i], true
}

// parseEncryptTag reads an encrypt tag's value: "kms", then options. The
// one option family today declares a beacon: beacon=N (1 to 63 bits), and
// lower and trim, which normalise strings first.
func parseEncryptTag(v string) (*Beacon, error) {
	parts := strings.Split(v, ",")
	if parts[0] != EncryptKMS {
		return nil, fmt.Errorf("unknown %s tag value %q (the one value is %q, with options beacon=N, lower, trim)", EncryptTag, v, EncryptKMS)
	}
	if len(parts) == 1 {
		return nil, nil
	}
	b := &Beacon{}
	for _, opt := range parts[1:] {
		switch name, arg, _ := strings.Cut(opt, "="); name {
		case "beacon":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 || n > 63 {
				return nil, fmt.Errorf("%s tag option %q: a beacon keeps 1 to 63 bits", EncryptTag, opt)
			}
			b.Bits = n
		case "lower":
			b.Lower = true
		case "trim":
			b.Trim = true
		default:
			return nil, fmt.Errorf("unknown %s tag option %q (options: beacon=N, lower, trim)", EncryptTag, opt)
		}
	}
	if b.Bits == 0 {
		return nil, fmt.Errorf("%s tag %q: lower and trim apply to a beacon: add beacon=N", EncryptTag, v)
	}
	return b, nil
}

// FieldFold returns the field whose attribute name equals attr under
// strings.EqualFold, preferring an exact match. attributevalue's Unmarshal
// fills a field from an attribute whose name differs from the field's only
// in case (cachedFields.FieldByName in its field_cache.go), so an attribute
// FieldFold finds lands in that field when read, whatever its case.
func (s *Schema) FieldFold(attr string) (*Field, bool) {
	if f, ok := s.Field(attr); ok {
		return f, true
	}
	for i := range s.Fields {
		if strings.EqualFold(s.Fields[i].Attr, attr) {
			return &s.Fields[i], true
		}
	}
	return nil, false
}

// AttributeList returns the attribute names, quoted, in struct order, for
// messages.
func (s *Schema) AttributeList() string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = strconv.Quote(f.Attr)
	}
	return strings.Join(names, ", ")
}

// Encrypted returns the fields tagged for encryption.
func (s *Schema) Encrypted() []*Field {
	var out []*Field
	for i := range s.Fields {
		if s.Fields[i].Encrypted {
			out = append(out, &s.Fields[i])
		}
	}
	return out
}

// Plain reports whether the field marshals on its own as it does within the
// struct: it has no dynamodbav tag options beyond omitempty.
func (f *Field) Plain() bool {
	for _, o := range f.tagOpts {
		if o != "" && o != "omitempty" {
			return false
		}
	}
	return true
}

func (f *Field) hasOpt(opt string) bool {
	for _, o := range f.tagOpts {
		if o == opt {
			return true
		}
	}
	return false
}

var (
	marshalerType   = reflect.TypeFor[attributevalue.Marshaler]()
	unmarshalerType = reflect.TypeFor[attributevalue.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// KeyType returns the DynamoDB scalar type ("S", "N" or "B") the field
// marshals to, or an error if it cannot be a key attribute.
func (f *Field) KeyType() (string, error) {
	t := f.Type
	switch {
	case f.Encrypted:
		return "", fmt.Errorf("%s: key attribute %q cannot be encrypted: keys are stored in plaintext to be found", f.Path, f.Attr)
	case t.Kind() == reflect.Pointer:
		return "", fmt.Errorf("%s: key attribute %q is a pointer; use a value type", f.Path, f.Attr)
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		return "", fmt.Errorf("%s: key attribute %q has a custom marshaler, so its type is unknown; use a string, number or []byte type", f.Path, f.Attr)
	case t == timeType && f.hasOpt("unixtime"):
		return "N", nil
	case t == timeType:
		return "S", nil
	case f.hasOpt("string") && isNumber(t.Kind()):
		return "S", nil
	case t.Kind() == reflect.String:
		return "S", nil
	case isNumber(t.Kind()):
		return "N", nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "B", nil
	}
	return "", fmt.Errorf("%s: key attribute %q has type %v; a key must be a string, number or []byte", f.Path, f.Attr, t)
}

// MayBeBinary reports whether the field can marshal to a binary (B)
// value: a byte slice or array, or a type whose marshalling is its own or
// decided at run time (an interface).
func (f *Field) MayBeBinary() bool {
	t := f.Type
	for t.Kind() == reflect.Pointer {
		if t.Implements(marshalerType) {
			return true
		}
		t = t.Elem()
	}
	switch {
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType), t.Kind() == reflect.Interface:
		return true
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return t.Elem().Kind() == reflect.Uint8
	}
	return false
}

// IsInteger reports whether the field is a Go integer, as a version
// attribute must be.
func (f *Field) IsInteger() bool {
	switch f.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return !f.hasOpt("string")
	}
	return false
}

// checkMarshalable rejects types attributevalue cannot marshal (channels,
// functions, complex numbers, unsafe pointers), wherever they are nested,
// so that New reports them instead of every Put.
func checkMarshalable(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] || t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("type %v cannot be stored in DynamoDB; tag the field dynamodbav:\"-\" to skip it", t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkMarshalable(t.Elem(), seen)
	case reflect.Map:
		if err := checkMarshalable(t.Key(), seen); err != nil {
			return err
		}
		return checkMarshalable(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && f.Tag.Get("dynamodbav") != "-" {
				if err := checkMarshalable(f.Type, seen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkTag refuses a struct tag that looks meant to encrypt the field but
// that Lookup(EncryptTag) does not find, so that a typo cannot store a
// secret in plaintext: a key other than EncryptTag containing "crypt"
// (encrypted, Encrypt, encryption, decrypt), named "kms" in any case, within
// two edits of "encrypt" (encrpyt, encyrpt) or whose value is "kms" (enc:"kms");
// an encrypt value Lookup cannot unquote; and a tag malformed before a word
// like these, where Lookup stops reading.
func checkTag(tag reflect.StructTag, path string) error {
	keys, rest := tagKeys(tag)
	for _, k := range keys {
		if k == EncryptTag {
			if _, ok := tag.Lookup(EncryptTag); !ok {
				return fmt.Errorf("%s: malformed %s tag value, so the field would not be encrypted; write %s:%q", path, EncryptTag, EncryptTag, EncryptKMS)
			}
			continue
		}
		v, _ := tag.Lookup(k)
		kmsValue := strings.EqualFold(v, EncryptKMS) && !namingTags[k]
		if l := strings.ToLower(k); strings.Contains(l, "crypt") || l == "kms" || kmsValue || editDistance(l, EncryptTag) <= 2 {
			return fmt.Errorf("%s: struct tag key %q is not %q, so the field would not be encrypted; write %s:%q", path, k, EncryptTag, EncryptTag, EncryptKMS)
		}
	}
	if l := strings.ToLower(rest); strings.Contains(l, "crypt") || strings.Contains(l, "kms") {
		return fmt.Errorf("%s: malformed struct tag from %q on, which reflect does not read, so the field would not be encrypted; write %s:%q (key:\"value\" pairs, separated by spaces)", path, rest, EncryptTag, EncryptKMS)
	}
	return nil
}

// namingTags are tag keys of well-known encoders whose value names the field
// in another format, where "kms" is a name like any other.
var namingTags = map[string]bool{
	"dynamodbav": true, "json": true, "yaml": true, "xml": true, "toml": true, "bson": true, "db": true,
	"mapstructure": true, "form": true, "query": true, "csv": true, "env": true, "protobuf": true,
}

// editDistance returns the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tagKeys returns the keys of tag in the conventional format, key:"value"
// pairs separated by spaces, scanning as reflect.StructTag.Lookup does. A
// syntax error ends the scan, as it ends Lookup's; rest is the unread text
// from there (empty if tag is well-formed). Values are not unquoted.
func tagKeys(tag reflect.StructTag) (keys []string, rest string) {
	for {
		tag = reflect.StructTag(strings.TrimLeft(string(tag), " "))
		if tag == "" {
			return keys, ""
		}
		// The key runs to the colon; a space, a quote or a control
		// character is a syntax error.
		i := 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			return keys, string(tag)
		}
		// The quoted value runs to the first quote not escaped.
		j := i + 2
		for j < len(tag) && tag[j] != '"' {
			if tag[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(tag) {
			return keys, string(tag)
		}
		keys = append(keys, string(tag[:i]))
		tag = tag[j+1:]
	}
}

// errNotUTF8 refuses an attribute name that is not valid UTF-8, as DynamoDB
// names must be. It names the field, not the bytes, which would garble the
// message.
func errNotUTF8(path string) error {
	return fmt.Errorf("%s: dynamodbav attribute name is not valid UTF-8; use a UTF-8 name", path)
}

func isNumber(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}
