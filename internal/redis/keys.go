package redis

// Every key of one sale product shares the hash tag {<sale>:<product>}, so a
// script that touches them all runs on one cluster slot.
//
//	fs:{S:P}:stock   string  units available to reserve
//	fs:{S:P}:meta    hash    start_ms end_ms state limit price currency total
//	                         held sold discarded
//	fs:{S:P}:res     hash    hold id -> "state|user|qty|deadline_ms|amount"
//	fs:{S:P}:exp     zset    HELD hold ids scored by deadline (ms)
//	fs:{S:P}:pend    zset    CONFIRMING hold ids scored by deadline+grace (ms)
//	fs:{S:P}:users   hash    user -> units held or bought
//	fs:{S:P}:idem    hash    user ":" idempotency key -> hold id
//	fs:{S:P}:events  stream  hold events, read by the event relay
//
// One hash holds a JSON document per sale (window, state, lines with names
// and prices); browsing reads it with single-key commands:
//
//	fs:sales         hash    sale id -> JSON document of the sale

// productKeys are the keys of one sale product, in the order the scripts
// expect them in KEYS.
type productKeys struct {
	stock, meta, res, exp, pend, users, idem, events string
}

func keysFor(saleID, productID string) productKeys {
	p := "fs:{" + saleID + ":" + productID + "}:"
	return productKeys{
		stock:  p + "stock",
		meta:   p + "meta",
		res:    p + "res",
		exp:    p + "exp",
		pend:   p + "pend",
		users:  p + "users",
		idem:   p + "idem",
		events: p + "events",
	}
}

// all lists the keys in script order: KEYS[1] stock ... KEYS[8] events.
func (k productKeys) all() []string {
	return []string{k.stock, k.meta, k.res, k.exp, k.pend, k.users, k.idem, k.events}
}

const salesIndexKey = "fs:sales"
