package vault

import (
	"container/list"
	"sync"
)

// lru is a fixed-size least-recently-used map from label to unsealed key. It is safe for
// concurrent use.
type lru struct {
	mu    sync.Mutex
	size  int
	order *list.List               // front: most recently used; values are *lruEntry
	items map[string]*list.Element // label -> element of order
}

type lruEntry struct {
	label string
	key   *softKey
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), items: make(map[string]*list.Element, size)}
}

func (c *lru) get(label string) (*softKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[label]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).key, true
}

// add keeps k under label, evicting the least recently used entry when full. An entry
// already there stays (keys never change, so both are the same key).
func (c *lru) add(label string, k *softKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[label]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.items[label] = c.order.PushFront(&lruEntry{label: label, key: k})
	if c.order.Len() > c.size {
		old := c.order.Remove(c.order.Back()).(*lruEntry)
		delete(c.items, old.label)
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
