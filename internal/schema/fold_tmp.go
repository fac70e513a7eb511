package schema

import "strings"

// FieldFold: temporary until the schema-checks branch lands.
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
