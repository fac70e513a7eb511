package schema

import (
	"fmt"
	"reflect"
	"sync"
)

// Interface-typed values escape Parse: a field of type any, or a
// map[string]any, can hold at run time a struct whose fields carry encrypt
// tags, which would be stored in plaintext. CheckValue looks at what such
// fields hold, on every write of a type that has them.

// mayHoldInterface reports whether a value of type t can contain an
// interface value, through pointers, slices, arrays, maps and struct fields.
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
			if f := t.Field(i); f.IsExported() && mayHoldInterface(f.Type, seen) {
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
var typeChecks sync.Map // reflect.Type -> error (nil stored as errNone)

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

// CheckValue refuses an item (a T, or a pointer to one) whose plaintext
// fields hold, in interface values, structs with encrypt tags: dynacrypt
// applies tags it saw at New only. Types without interface fields cost
// nothing.
func (s *Schema) CheckValue(item reflect.Value) error {
	for _, f := range s.dynamic {
		if err := checkValue(item.FieldByIndex(f.Index), f.Path); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if err := checkDynamicType(v.Elem().Type()); err != nil {
			return fmt.Errorf("%s holds a %v: %w", path, v.Elem().Type(), err)
		}
		return checkValue(v.Elem(), path)
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return checkValue(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		if !mayHoldInterface(v.Type().Elem(), map[reflect.Type]bool{}) {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := checkValue(v.Index(i), path+"[]"); err != nil {
				return err
			}
		}
	case reflect.Map:
		if !mayHoldInterface(v.Type().Elem(), map[reflect.Type]bool{}) {
			return nil
		}
		for it := v.MapRange(); it.Next(); {
			if err := checkValue(it.Value(), path+"[]"); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if sf := v.Type().Field(i); sf.IsExported() {
				if err := checkValue(v.Field(i), path+"."+sf.Name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
