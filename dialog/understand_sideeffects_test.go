package dialog

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExampleSideEffectsConfirmed walks every example script's nodes that end the call and proves that no side
// effect (SMS, webhook, alert, the spoken promise "已为您登记...") quotes an amount, number, date or time the callee
// gave without a read-back: the node has a Confirm whose question quotes every such slot, so the callee hears each
// value before the node acts (the conversation acts only on a yes; TestReadBackBeforeSideEffects runs one).
func TestExampleSideEffectsConfirmed(t *testing.T) {
	files, err := filepath.Glob("../examples/*/script.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("example scripts: %v %v", files, err)
	}
	checked := 0
	for _, f := range files {
		s, err := LoadFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, id := range sortedKeys(s.Nodes) {
			n := s.Nodes[id]
			if n.End == nil {
				continue
			}
			texts := slices.Clone(n.Say)
			for _, nt := range n.End.Notify {
				texts = append(texts, nt.To, nt.Text)
			}
			quoted := map[string]bool{}
			for _, m := range quotedRE.FindAllStringSubmatch(strings.Join(texts, " "), -1) {
				if sl := s.slotBy[m[1]]; sl != nil && slices.Contains([]string{"amount", "number", "date", "time"}, sl.Kind) {
					quoted[m[1]] = true
				}
			}
			if len(quoted) == 0 {
				continue
			}
			checked++
			if n.Confirm == nil {
				t.Errorf("%s: node %s quotes %v with no read-back", f, id, sortedKeys(quoted))
				continue
			}
			for name := range quoted {
				if !strings.Contains(n.Confirm.Say, "."+name) {
					t.Errorf("%s: node %s quotes %s, which its read-back %q does not", f, id, name, n.Confirm.Say)
				}
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d side-effect nodes quote a captured value: the walk found less than the scripts hold", checked)
	}
	t.Logf("%d side-effect nodes quoting captured values, each read back", checked)
}
