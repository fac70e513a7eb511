package dynacrypt

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// condition builds a condition expression from simple clauses joined by AND.
type condition struct {
	clauses []string
	names   map[string]string
	values  map[string]types.AttributeValue
	// means is what a failure of the condition means.
	means failure
	// expr, if set, is the expression already joined, and names is shared
	// with other conditions: see single.
	expr *string
}

// single returns a condition of one clause whose expression and names New
// built once (the version and create conditions of every Put), so that a
// write does not build them again. It must not be extended.
func single(clause string, names map[string]string, means failure) condition {
	return condition{clauses: []string{clause}, names: names, means: means, expr: &clause}
}

// failure is what a failed write condition means to the caller.
type failure int

const (
	// changed: the item is not as read (Update, which retries).
	changed failure = iota
	// exists: a create found the item there.
	exists
	// staleOrGone: a write at version v found another version, or no item.
	staleOrGone
)

func (c *condition) name(attr string) string {
	if c.expr != nil {
		panic("dynacrypt: a single condition extended")
	}
	if c.names == nil {
		c.names = map[string]string{}
	}
	ph := "#c" + strconv.Itoa(len(c.names))
	c.names[ph] = attr
	return ph
}

func (c *condition) notExists(attr string) {
	c.clauses = append(c.clauses, "attribute_not_exists("+c.name(attr)+")")
}

func (c *condition) exists(attr string) {
	c.clauses = append(c.clauses, "attribute_exists("+c.name(attr)+")")
}

func (c *condition) equals(attr string, v types.AttributeValue) {
	if c.values == nil {
		c.values = map[string]types.AttributeValue{}
	}
	ph := ":c" + strconv.Itoa(len(c.values))
	c.values[ph] = v
	c.clauses = append(c.clauses, c.name(attr)+" = "+ph)
}

// apply sets a request's condition fields; with no clauses it sets nothing.
func (c *condition) apply(expr **string, names *map[string]string, values *map[string]types.AttributeValue) {
	if len(c.clauses) == 0 {
		return
	}
	if c.expr != nil {
		*expr, *names, *values = c.expr, c.names, c.values
		return
	}
	e := strings.Join(c.clauses, " AND ")
	*expr, *names, *values = &e, c.names, c.values
}
