package vault

import (
	"fmt"
	"testing"
)

func TestLRU(t *testing.T) {
	c := newLRU(3)
	keys := map[string]*softKey{}
	for i := range 5 {
		l := fmt.Sprint(i)
		keys[l] = &softKey{ref: KeyRef{Label: l}}
	}
	c.add("0", keys["0"])
	c.add("1", keys["1"])
	c.add("2", keys["2"])
	if _, ok := c.get("0"); !ok { // 0 is now the most recent
		t.Fatal("0 missing")
	}
	c.add("3", keys["3"]) // evicts 1
	if _, ok := c.get("1"); ok {
		t.Error("1 not evicted")
	}
	c.add("0", &softKey{}) // already there: kept, not replaced
	if k, _ := c.get("0"); k != keys["0"] {
		t.Error("add replaced an entry")
	}
	for _, l := range []string{"0", "2", "3"} {
		if k, ok := c.get(l); !ok || k != keys[l] {
			t.Errorf("%s: got %v %v", l, k, ok)
		}
	}
	if n := c.len(); n != 3 {
		t.Errorf("len %d, want 3", n)
	}
}
