package schema

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Interface-typed values escape Parse: a field of type any, or a
// map[string]any, can hold at run time a struct whose fields carry encrypt
// tags, which would be stored in plaintext. CheckValue looks at what such
// fields hold, on every write of a type that has them.

// stored reports whether attributevalue marshals struct field f: exported
// fields and anonymous ones (whose exported fields it promotes, even when
// the embedded type is unexported), unless tagged dynamodbav:"-".
func stored(f reflect.StructField) bool {
	name, _, _ := strings.Cut(f.Tag.Get("dynamodbav"), ",")
	return (f.IsExported() || f.Anonymous) && name != "-"
}

// mayHoldInterface reports whether a stored value of type t can contain an
// interface value, through pointers, slices, arrays, maps and stored struct
// fields.
func mayHoldInterface(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return mayHoldInterface(t.Elem(), seen)
	case reflect.Map:
		return mayHoldInterface(t.Key(), seen) || mayHoldInterface(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); stored(f) && mayHoldInterface(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// dynamicFields are the plaintext fields of s that may hold interface
// values; encrypted ones are sealed whole, whatever they hold.
func (s *Schema) dynamicFields() []*Field {
	var out []*Field
	for i := range s.Fields {
		if f := &s.Fields[i]; !f.Encrypted && mayHoldInterface(f.Type, map[reflect.Type]bool{}) {
			out = append(out, f)
		}
	}
	return out
}

// typeChecks caches, per dynamic type, whether it carries encrypt tags.
// Types come from the program, not from data, so it stays small.
var typeChecks sync.Map // reflect.Type -> error, or errNone

var errNone = fmt.Errorf("none")

// checkDynamicType refuses a type found inside an interface value if it has
// encrypt tags (or misspelled ones) anywhere: they would not be applied.
func checkDynamicType(t reflect.Type) error {
	if err, ok := typeChecks.Load(t); ok {
		if err == errNone {
			return nil
		}
		return err.(error)
	}
	err := inner{seen: map[reflect.Type]bool{}}.walk(t, t.String(), "the top-level field", false)
	if err != nil {
		err = fmt.Errorf("inside an interface value: %w", err)
		typeChecks.Store(t, err)
	} else {
		typeChecks.Store(t, errNone)
	}
	return err
}

// CheckValue refuses an item (a T) whose plaintext fields hold, in interface
// values, structs with encrypt tags: dynacrypt applies tags it saw at New
// only. It follows what attributevalue marshals, and stops at pointers and
// maps it has seen, so cyclic values end. Types without interface fields
// cost nothing.
func (s *Schema) CheckValue(item reflect.Value) error {
	if len(s.dynamic) == 0 {
		return nil
	}
	seen := map[uintptr]bool{}
	for _, f := range s.dynamic {
		if err := checkValue(item.FieldByIndex(f.Index), f.Path, seen); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v reflect.Value, path string, seen map[uintptr]bool) error {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if err := checkDynamicType(v.Elem().Type()); err != nil {
			return fmt.Errorf("%s holds a %v: %w", path, v.Elem().Type(), err)
		}
		return checkValue(v.Elem(), path, seen)
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return nil
		}
		seen[v.Pointer()] = true
		return checkValue(v.Elem(), path, seen)
	case reflect.Slice, reflect.Array:
		if !mayHoldInterface(v.Type().Elem(), map[reflect.Type]bool{}) {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := checkValue(v.Index(i), path+"[]", seen); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.IsNil() || seen[v.Pointer()] || !mayHoldInterface(v.Type().Elem(), map[reflect.Type]bool{}) {
			return nil
		}
		seen[v.Pointer()] = true
		for it := v.MapRange(); it.Next(); {
			if err := checkValue(it.Value(), path+"[]", seen); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if sf := v.Type().Field(i); stored(sf) {
				if err := checkValue(v.Field(i), path+"."+sf.Name, seen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
