package structure

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// scratch holds what a record's encryption or decryption works with and
// nothing returns, pooled so that a record allocates little more than its
// output: its serialized signed fields, encryption context, materials,
// parsed header and footer, keys, canonical record and decrypted values.
// It is wiped when given back, as it held keys and plaintext.
type scratch struct {
	signed  []signedAttr
	order   []int32       // indexes into signed, in canonical path order
	present []presentAttr // configured attributes of the item, in canonical path order
	fields  []field
	offsets []int
	buf     []byte // serialized values and paths
	known   bool   // the item's attributes are all configured, but for the header and footer

	pairs     []Pair  // the context entries reproduced from the item
	inContext []int32 // indexes into fields of SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT ones
	context   []Pair  // the record's full encryption context
	aad       []byte  // the context serialized for keyrings
	text      []byte  // context values being encoded
	legend    []byte
	enc       EncryptionMaterials
	dec       DecryptionMaterials
	header    Header
	footer    Footer
	keys      suite.RecordKeys
	record    []byte // the canonical record
	plain     []byte // a decrypted value
	values    []types.AttributeValue
}

// signedAttr is a signed attribute before serialization.
type signedAttr struct {
	name     string
	av       types.AttributeValue
	action   Action
	utf16Len int
}

// presentAttr is a configured attribute of an item being serialized.
type presentAttr struct {
	attr *knownAttr
	av   types.AttributeValue
}

// maxPooledScratch bounds the buffers kept for reuse, so that one large
// item does not pin its memory.
const maxPooledScratch = 64 << 10

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 2048)} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// release wipes sc and returns it to the pool. The materials' data key is
// the caller's to wipe (the keyring allocated it). Of the rest, the keys,
// the serialized values (plaintext before encryption) and the decrypted
// ones are secret; the context, legend and canonical record hold what the
// stored item shows, ciphertexts rather than plaintexts.
func (sc *scratch) release() {
	clear(sc.buf[:cap(sc.buf)])
	clear(sc.plain[:cap(sc.plain)])
	sc.keys.Reset()
	clear(sc.signed)
	clear(sc.present)
	clear(sc.fields)
	clear(sc.pairs)
	clear(sc.context)
	clear(sc.values)
	clear(sc.enc.EDKs)
	clear(sc.enc.SigningKeys)
	clear(sc.header.Context)
	clear(sc.header.EDKs)
	clear(sc.footer.Tags)
	if cap(sc.buf)+cap(sc.record)+cap(sc.plain) > maxPooledScratch {
		return
	}
	sc.signed, sc.order, sc.present, sc.fields, sc.offsets = sc.signed[:0], sc.order[:0], sc.present[:0], sc.fields[:0], sc.offsets[:0]
	sc.inContext, sc.known = sc.inContext[:0], false
	sc.buf, sc.aad, sc.text, sc.legend, sc.record, sc.plain = sc.buf[:0], sc.aad[:0], sc.text[:0], sc.legend[:0], sc.record[:0], sc.plain[:0]
	sc.pairs, sc.context, sc.values = sc.pairs[:0], sc.context[:0], sc.values[:0]
	sc.enc = EncryptionMaterials{EDKs: sc.enc.EDKs[:0], SigningKeys: sc.enc.SigningKeys[:0]}
	sc.dec = DecryptionMaterials{}
	sc.header = Header{Context: sc.header.Context[:0], EDKs: sc.header.EDKs[:0]}
	sc.footer = Footer{Tags: sc.footer.Tags[:0]}
	scratchPool.Put(sc)
}
