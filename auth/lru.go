package auth

// lru is a bounded map that evicts the least recently used entry when full.
// It backs the rate limiter's per-address state and the dynamic authorizer's
// decision cache, both of which clients can make grow (new addresses, new
// URIs), so both must be bounded. Not safe for concurrent use: callers hold
// their own mutex.
type lru[K comparable, V any] struct {
	max        int
	items      map[K]*lruEntry[K, V]
	head, tail *lruEntry[K, V] // head = most recently used
}

type lruEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruEntry[K, V]
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	if max < 1 {
		max = 1
	}
	return &lru[K, V]{max: max, items: make(map[K]*lruEntry[K, V])}
}

// get returns the value for k and marks it used.
func (c *lru[K, V]) get(k K) (V, bool) {
	e, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.moveToFront(e)
	return e.val, true
}

// put sets k's value, evicting the least recently used entry if full.
func (c *lru[K, V]) put(k K, v V) {
	if e, ok := c.items[k]; ok {
		e.val = v
		c.moveToFront(e)
		return
	}
	if len(c.items) >= c.max && c.tail != nil {
		c.remove(c.tail.key)
	}
	e := &lruEntry[K, V]{key: k, val: v}
	c.items[k] = e
	c.pushFront(e)
}

// remove deletes k.
func (c *lru[K, V]) remove(k K) {
	e, ok := c.items[k]
	if !ok {
		return
	}
	delete(c.items, k)
	c.unlink(e)
}

func (c *lru[K, V]) len() int { return len(c.items) }

func (c *lru[K, V]) pushFront(e *lruEntry[K, V]) {
	e.prev, e.next = nil, c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

func (c *lru[K, V]) unlink(e *lruEntry[K, V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *lru[K, V]) moveToFront(e *lruEntry[K, V]) {
	if c.head == e {
		return
	}
	c.unlink(e)
	c.pushFront(e)
}
