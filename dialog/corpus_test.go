package dialog

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/outcall/outcall/pkg/nlu"
)

// corpusScripts are the sector scripts the corpus is written for, and the node "*" lines (global intents, said at
// any node) are tried at in each.
var corpusScripts = map[string]string{
	"finance-overdue": "gentle", "ecommerce": "order_confirm", "healthcare": "appt", "government": "policy",
	"quickstart": "confirm",
}

// score counts one group's results.
type score struct {
	n, intentOK            int
	slotTP, slotFP, slotFN int
	forbidden              int
	errors                 []string
	confusion              map[string]int // "want → got" of the intent errors
}

func (s *score) add(o score) {
	s.n, s.intentOK = s.n+o.n, s.intentOK+o.intentOK
	s.slotTP, s.slotFP, s.slotFN, s.forbidden = s.slotTP+o.slotTP, s.slotFP+o.slotFP, s.slotFN+o.slotFN, s.forbidden+o.forbidden
	s.errors = append(s.errors, o.errors...)
	for k, v := range o.confusion {
		if s.confusion == nil {
			s.confusion = map[string]int{}
		}
		s.confusion[k] += v
	}
}

func (s score) accuracy() float64  { return ratio(s.intentOK, s.n) }
func (s score) precision() float64 { return ratio(s.slotTP, s.slotTP+s.slotFP) }
func (s score) recall() float64    { return ratio(s.slotTP, s.slotTP+s.slotFN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// TestCorpus measures the understanding on pkg/nlu's labelled corpus: intent accuracy, slot precision and
// recall, and forbidden extractions, per script, for the tuning half (which the rules and the n-gram model were
// built from) and the held-out half (which nothing was tuned on). It fails under the floor below on the held-out
// half. -v prints the figures; CORPUS_ERRORS=1 lists the tuning half's errors (never the held-out half's);
// CORPUS_CONFUSION=1 counts the intent errors by expected → got (5 or more);
// CORPUS_CV=1 measures a cross-validation inside the tuning half instead (model trained on two thirds of it).
func TestCorpus(t *testing.T) {
	us, err := nlu.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]*Script{}
	for name := range corpusScripts {
		s, err := LoadFile("../examples/" + name + "/script.yaml")
		if err != nil {
			t.Fatal(err)
		}
		scripts[name] = s
	}
	if testingEnv("CORPUS_CV") {
		// Cross-validation inside the tuning half, for choosing how the model and the rules combine without
		// looking at the held-out half: train on one part of the tuning half, measure on the other.
		var train []nlu.Example
		var rest []nlu.Utterance
		for _, u := range us {
			switch {
			case u.HeldOut():
			case len(u.Text)%3 == 0:
				rest = append(rest, u)
			case u.Intent != "*":
				train = append(train, nlu.Example{Text: u.Text, Intent: u.Intent})
			}
		}
		minProb := 0.6
		if v, err := strconv.ParseFloat(os.Getenv("CORPUS_CV"), 64); err == nil && v > 0 && v < 1 {
			minProb = v // CORPUS_CV=0.45: the threshold to try
		}
		m := nlu.TrainModel(train, minProb)
		saved := model
		model = func() *nlu.Model { return m }
		defer func() { model = saved }()
		us = rest
	}
	second, err := nlu.SecondHeldOut()
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]map[string]*score{}
	judgeAll := func(us []nlu.Utterance, halfOf func(nlu.Utterance) string) {
		for _, u := range us {
			names := []string{u.Script}
			if u.Script == "*" {
				names = sortedKeys(corpusScripts)
			}
			for _, name := range names {
				s := scripts[name]
				if s == nil {
					t.Fatalf("%s: unknown script %q", u.File, name)
				}
				node := u.Node
				if node == "*" {
					node = corpusScripts[name]
				}
				group := name
				if u.Script == "*" {
					group = "global@" + name
				}
				half := halfOf(u)
				if results[half] == nil {
					results[half] = map[string]*score{}
				}
				g := results[half][group]
				if g == nil {
					g = &score{}
					results[half][group] = g
				}
				g.add(judge(t, s, node, u))
			}
		}
	}
	judgeAll(us, func(u nlu.Utterance) string { return map[bool]string{false: "tuning", true: "held-out"}[u.HeldOut()] })
	if !testingEnv("CORPUS_CV") {
		judgeAll(second, func(nlu.Utterance) string { return "second" })
	}
	for _, half := range []string{"tuning", "held-out", "second"} {
		var all score
		for _, group := range sortedKeys(results[half]) {
			g := results[half][group]
			all.add(*g)
			t.Logf("%-8s %-26s n=%4d intent %.1f%%  slot P %.1f%% R %.1f%%  forbidden %d", half, group, g.n,
				100*g.accuracy(), 100*g.precision(), 100*g.recall(), g.forbidden)
			if half == "tuning" && testingEnv("CORPUS_ERRORS") {
				for _, e := range g.errors {
					t.Log("  " + e)
				}
			}
		}
		t.Logf("%-8s %-26s n=%4d intent %.1f%%  slot P %.1f%% R %.1f%%  forbidden %d", half, "ALL", all.n,
			100*all.accuracy(), 100*all.precision(), 100*all.recall(), all.forbidden)
		if testingEnv("CORPUS_CONFUSION") { // counts only, never the utterances
			for _, k := range sortedKeys(all.confusion) {
				if all.confusion[k] >= 5 {
					t.Logf("%-8s confusion %-32s %d", half, k, all.confusion[k])
				}
			}
		}
		fl, held := floors[half]
		if !held || all.n == 0 {
			continue
		}
		if all.accuracy() < fl.intent || all.precision() < fl.precision || all.forbidden > fl.forbidden {
			t.Errorf("%s below the floor (intent ≥ %.0f %%, slot precision ≥ %.0f %%, ≤ %d forbidden): %.1f%% %.1f%% %d",
				half, 100*fl.intent, 100*fl.precision, fl.forbidden, 100*all.accuracy(), 100*all.precision(), all.forbidden)
		}
		if all.accuracy() < 0.95 || all.precision() < 0.98 || all.forbidden > 0 {
			t.Logf("%s: NOT YET at issue 17's target (intent ≥ 95 %%, slot precision ≥ 98 %%, 0 forbidden)", half)
		}
	}
	t.Logf("corpus: %d utterances; second held-out set: %d", len(us), len(second))
}

// judge understands one utterance at node as a conversation would: the intent classify names and the slots the
// node (or its pending read-back) captures.
func judge(t *testing.T, s *Script, node string, u nlu.Utterance) score {
	t.Helper()
	c, _, err := Start(s, "corpus", corpusVars[s.Name], Options{Now: monday})
	if err != nil {
		t.Fatal(err)
	}
	n := s.Nodes[node]
	if n == nil {
		t.Fatalf("%s: %s has no node %q", u.File, s.Name, node)
	}
	c.st.Node = node
	if n.Confirm != nil {
		c.st.Confirm = node
	}
	var r Reply
	c.hear(t.Context(), &r, n, Say(u.Text), u.Text)
	got := r.Intent
	if c.st.Confirm != "" && !isGlobalIntent(got) {
		// A read-back is answered by a yes or a no, whatever script intent the words also match.
		switch yes, no := c.yesNo(u.Text); {
		case yes:
			got = IntentConfirm
		case no:
			got = IntentDeny
		}
	}
	sc := score{n: 1}
	switch {
	case u.Intent == "*": // a node that only captures: the intent is not scored
		sc.n = 0
	case got == u.Intent:
		sc.intentOK = 1
	default:
		sc.errors = append(sc.errors, fmt.Sprintf("%s %s@%s %q: intent %q, want %q", u.File, s.Name, node, u.Text, got, u.Intent))
		sc.confusion = map[string]int{fmt.Sprintf("%q → %q", u.Intent, got): 1}
	}
	for k, v := range r.Slots {
		want, ok := u.Slots[k]
		switch {
		case ok && slotString(v) == want:
			sc.slotTP++
		default:
			sc.slotFP++
			sc.errors = append(sc.errors, fmt.Sprintf("%s %q: slot %s=%v, want %q", u.File, u.Text, k, v, want))
		}
		for _, f := range u.Forbidden {
			if f == k {
				sc.forbidden++ // a bug in any half: always named, so that it is fixed with its own test
				t.Logf("FORBIDDEN %s %s@%s %q: slot %s=%v", u.File, s.Name, node, u.Text, k, v)
			}
		}
	}
	for k := range u.Slots {
		if v, ok := r.Slots[k]; !ok || slotString(v) != u.Slots[k] {
			sc.slotFN++
		}
	}
	return sc
}

func slotString(v any) string {
	switch x := v.(type) {
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".")
	}
	return fmt.Sprint(v)
}

// floors are what TestCorpus holds each held-out set to: what the understanding measured when the corpus was written
// (BENCHMARKS.md), so that no change makes it worse. Issue 17's target is higher (intent ≥ 95 %, 0 forbidden)
// and not reached yet; raise these as the understanding improves.
var floors = map[string]struct {
	intent, precision float64
	forbidden         int
}{
	"held-out": {0.91, 0.98, 0}, // the hashed half of pkg/nlu/corpus (91.3 %, 98.7 %, 0)
	"second":   {0.86, 0.97, 0}, // nlu.SecondHeldOut (86.0 %, 97.4 %, 0; 82.7 % before the generalising rules)
}

// corpusVars are contact records for the corpus's scripts.
var corpusVars = map[string]map[string]any{
	"finance-overdue": {"name": "张三", "overdue_days": 12, "amount": 1000.0},
	"ecommerce":       {"name": "李女士", "scenario": "order"},
	"healthcare":      {"name": "王先生", "scenario": "appointment"},
	"government":      {"name": "陈大爷", "scenario": "policy"},
	"quickstart":      {"name": "赵先生"},
}

func testingEnv(name string) bool { return strings.TrimSpace(os.Getenv(name)) != "" }
