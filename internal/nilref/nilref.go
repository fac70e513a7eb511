// Package nilref tells whether a value handed to a constructor is a nil
// reference whose methods would panic: a nil interface, or an interface
// holding a nil pointer, map, slice, func or channel.
package nilref

import "reflect"

// Is reports whether v is nil or holds a nil reference.
func Is(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
