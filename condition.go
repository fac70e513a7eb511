package dynacrypt

import (
	"maps"
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
	// ownExpr and ownNames are a single condition's expression and names
	// with the clause orOwnHeader adds, built once too.
	ownExpr  *string
	ownNames map[string]string
}

// single returns a condition of one clause whose expression and names New
// built once (the version and create conditions of every Put), also with
// the clause that accepts the item's own header (attribute headerAttr), so
// that a write does not build them again. It must not be extended, and its
// values must be the write's own.
func single(clause string, names map[string]string, means failure, headerAttr string) condition {
	own := clause + " OR " + ownHeaderName + " = " + ownHeaderValue
	ownNames := maps.Clone(names)
	ownNames[ownHeaderName] = headerAttr
	return condition{clauses: []string{clause}, names: names, means: means, expr: &clause, ownExpr: &own, ownNames: ownNames}
}

// The placeholders of the header in orOwnHeader's clause.
const ownHeaderName, ownHeaderValue = "#own", ":own"

// orOwnHeader makes the condition hold also when the stored item carries
// hdr (attribute attr), the header this write sealed. A header is unique to
// its write (a fresh nonce and wrapped key), so the item is this write's:
// the SDK's retry of a write whose first attempt landed and whose answer was
// lost then rewrites the same item and succeeds, instead of failing the
// condition that first attempt made false. A condition without clauses (an
// unconditional write) stays so.
func (c *condition) orOwnHeader(attr string, hdr types.AttributeValue) {
	if len(c.clauses) == 0 {
		return
	}
	if c.values == nil {
		c.values = make(map[string]types.AttributeValue, 1)
	}
	c.values[ownHeaderValue] = hdr
	if c.expr != nil {
		c.expr, c.names = c.ownExpr, c.ownNames
		return
	}
	c.names[ownHeaderName] = attr
	c.clauses = []string{"(" + strings.Join(c.clauses, " AND ") + ") OR " + ownHeaderName + " = " + ownHeaderValue}
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
