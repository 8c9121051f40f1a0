package ari

import (
	"regexp"
	"sort"
	"testing"
)

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^ch-[0-9a-hjkmnp-tv-z]{26}$`)
	const n = 5000
	seen := make(map[string]bool, n)
	list := make([]string, 0, n)
	for range n {
		id := NewID("ch")
		if !re.MatchString(id) {
			t.Fatalf("id %q has an unexpected shape", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		list = append(list, id)
	}
	if !sort.StringsAreSorted(list) {
		t.Fatal("ids made in sequence are not time-ordered")
	}
	if id := NewID("My Bridge/1;x"); !regexp.MustCompile(`^mybridge1x-[0-9a-z]{26}$`).MatchString(id) {
		t.Fatalf("kind not sanitised: %q", id)
	}
	if id := NewID(""); len(id) != 26 {
		t.Fatalf("empty kind: %q", id)
	}
}

func BenchmarkNewID(b *testing.B) {
	for b.Loop() {
		_ = NewID("ch")
	}
}
