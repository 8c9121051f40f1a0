package dialog

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/outcall/outcall/pkg/nlu"
)

// Intents every script has by default, from nlu.CommonIntents, besides the global ones (IntentHuman, ...): routes
// may name them without defining them. A script intent of the same name replaces the default one.
const (
	IntentConfirm   = nlu.IntentConfirm   // yes, agreement
	IntentDeny      = nlu.IntentDeny      // no, "that's wrong"
	IntentRefuse    = nlu.IntentRefuse    // not interested, 不需要
	IntentWhoIsThis = nlu.IntentWhoIsThis // who is calling, is this a robot
)

// builtinNames maps nlu's common intent names to the runtime's.
var builtinNames = map[string]string{
	nlu.IntentConfirm: IntentConfirm, nlu.IntentDeny: IntentDeny, nlu.IntentRefuse: IntentRefuse,
	nlu.IntentWhoIsThis: IntentWhoIsThis, nlu.IntentHuman: IntentHuman, nlu.IntentOptOut: IntentOptOut,
	nlu.IntentRepeat: IntentRepeat, nlu.IntentWrongPerson: IntentWrongPerson, nlu.IntentBusy: IntentBusy,
}

// isGlobalIntent reports the intents the runtime handles at every node that does not route them itself.
func isGlobalIntent(name string) bool {
	switch name {
	case IntentHuman, IntentOptOut, IntentRepeat, IntentWrongPerson, IntentBusy, IntentWhoIsThis:
		return true
	}
	return false
}

// isCommonIntent reports the built-in answers (yes, no, not interested) that rank under a script's own intents.
func isCommonIntent(name string) bool {
	switch name {
	case IntentConfirm, IntentDeny, IntentRefuse:
		return true
	}
	return false
}

// understandingOf compiles the script's intents with the global ones it does not redefine (rules), and the
// built-in answers it does not redefine (common: yes, no, not interested, who is this), each into an nlu.Matcher:
// keywords, patterns and nlu's negation analysis (不需要 never matches 需要). The two are kept apart so that a
// built-in 对的 cannot hide a script's 对 (a longer hit of another intent hides a shorter one). nil when they do not
// compile (Compile has reported why).
func understandingOf(intents []Intent) (rules, common *nlu.Matcher) {
	own := map[string]bool{}
	var defs, commons []nlu.IntentDef
	for _, in := range intents {
		own[in.Name] = true
		defs = append(defs, nlu.IntentDef{Name: in.Name, Keywords: in.Keywords, Patterns: in.Patterns})
	}
	for _, d := range nlu.CommonIntents() {
		switch d.Name = builtinNames[d.Name]; {
		case isCommonIntent(d.Name):
			commons = append(commons, d) // under a script intent of the same name, its fallback
		case !own[d.Name]:
			defs = append(defs, d)
		}
	}
	rules, err := nlu.NewMatcher(defs)
	if err != nil {
		return nil, nil
	}
	common, err = nlu.NewMatcher(commons)
	if err != nil {
		return nil, nil
	}
	return rules, common
}

// meaningsOf says which built-in answers each script intent's keywords are (government's "yes" holds 是的 and 可以:
// confirm; its "no" holds 不是 and 不需要: deny and refuse), so that a built-in answer heard at a node that routes
// only the script's own intents takes the one that means it.
func meaningsOf(intents []Intent, common *nlu.Matcher) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, in := range intents {
		for _, kw := range in.Keywords {
			for _, m := range common.Match(kw) {
				if !m.Negated {
					if out[in.Name] == nil {
						out[in.Name] = map[string]bool{}
					}
					out[in.Name][m.Intent] = true
				}
			}
		}
	}
	return out
}

// model is the character n-gram classifier trained from the tuning half of pkg/nlu's corpus; it answers, above
// its confidence threshold, when no keyword or pattern matched. nil if the corpus does not parse (a test fails).
var model = sync.OnceValue(func() *nlu.Model {
	m, err := nlu.TuningModel(0.6)
	if err != nil {
		return nil
	}
	return m
})

// candidates are the intent names a reply may carry: the script's, then the built-in ones.
func (s *Script) candidates() []string {
	names := make([]string, 0, len(s.Intents)+len(builtinNames))
	for _, in := range s.Intents {
		names = append(names, in.Name)
	}
	for _, name := range builtinNames {
		if s.intentBy[name] == nil {
			names = append(names, name)
		}
	}
	return names
}

// candidatesAt are the intents the n-gram model may name at node n: the script's intents it routes (all of them
// at an LLM node), then the built-in ones but opt-out.
func (s *Script) candidatesAt(n *Node) []string {
	var names []string
	for _, in := range s.Intents {
		if n.LLM != nil || nodeRoutes(n, in.Name) {
			names = append(names, in.Name)
		}
	}
	for _, name := range builtinNames {
		if s.intentBy[name] == nil && name != IntentOptOut {
			names = append(names, name) // a do-not-call entry needs the callee's explicit words, never a guess
		}
	}
	return names
}

// classify names the reply's intent. An Options.Classifier answers first when set. Then the rules: an opt-out
// heard anywhere in the reply; else the best keyword or pattern hit that is not negated, among the script's intents
// the node routes and the global ones; the built-in
// yes/no/not-interested/who-is-this only when none of those matched. Then the n-gram model when it is confident.
// Last, when the answer so far is none or weak, Options.Unsure (an LLM) within its time limit (askUnsure).
func (c *Conversation) classify(ctx context.Context, n *Node, text string) (string, float64) {
	if c.o.Classifier != nil {
		if ms, err := c.o.Classifier.Classify(ctx, text, c.s.candidates()); err == nil {
			for _, m := range ms {
				if !m.Negated && m.Intent != "" {
					return m.Intent, m.Score
				}
			}
		}
	}
	ms := c.s.und.Match(text)
	for _, m := range ms {
		if m.Intent == IntentOptOut && !m.Negated && c.s.intentBy[IntentOptOut] == nil {
			return m.Intent, m.Score // "我不需要,以后别再打": the opt-out is what must not be lost
		}
	}
	best := bestMatch(ms, func(name string) (float64, bool) {
		switch {
		case c.s.intentBy[name] == nil:
			return globalBonus[name], true // a request for a human outranks an incidental 可以
		case nodeRoutes(n, name):
			return 0.05, true // what the prompt asked for; on a tie with a global, the script's own keyword wins
		}
		return 0, n.LLM != nil // a script intent the node does not route means nothing here
	})
	if best.Intent == "" {
		best = bestMatch(c.s.common.Match(text), func(string) (float64, bool) { return 0, true })
		best.Intent = c.meaning(n, best.Intent)
	}
	if best.Intent == "" {
		if md := model(); md != nil {
			if ms, _ := md.Classify(ctx, text, c.s.candidatesAt(n)); len(ms) > 0 {
				best = ms[0]
				best.Intent = c.meaning(n, best.Intent)
			}
		}
	}
	if c.o.Unsure != nil && best.Score < cmp.Or(c.o.UnsureBelow, 0.6) {
		if m, ok := c.askUnsure(ctx, n, text); ok {
			best = m
		}
	}
	return best.Intent, min(best.Score, 1)
}

// askUnsure asks Options.Unsure among the intents the node may act on (never opt-out), within UnsureTimeout. It
// fails closed: an error, a timeout, "none", a negated answer or a name outside those intents is no answer, and the
// rules' stands. Only the intent is taken; slots are read from the callee's words alone (nlu.Slot).
func (c *Conversation) askUnsure(ctx context.Context, n *Node, text string) (nlu.Match, bool) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(c.o.UnsureTimeout, 1500*time.Millisecond))
	defer cancel()
	cands := c.s.candidatesAt(n)
	ms, err := c.o.Unsure.Classify(ctx, text, cands)
	if err != nil || len(ms) == 0 || ms[0].Negated || !slices.Contains(cands, ms[0].Intent) {
		return nlu.Match{}, false
	}
	m := ms[0]
	m.Intent = c.meaning(n, m.Intent)
	return m, true
}

// globalBonus raises the global intents over the script's incidental keywords: most of all a request for a
// human and the wrong person; busy, repeat and who-is-this less than a keyword the node routes (0.05), so that a
// script's own 不方便 stays its own.
var globalBonus = map[string]float64{IntentHuman: 0.1, IntentWrongPerson: 0.06, IntentBusy: 0.04, IntentRepeat: 0.04,
	IntentWhoIsThis: 0.04, IntentOptOut: 0.1}

// bestMatch returns the best match that is not negated and that bonus allows, its score raised by bonus.
func bestMatch(ms []nlu.Match, bonus func(string) (float64, bool)) nlu.Match {
	var best nlu.Match
	for _, m := range ms {
		b, ok := bonus(m.Intent)
		if m.Negated || !ok {
			continue
		}
		if m.Score += b; m.Score > best.Score {
			best = m
		}
	}
	return best
}

// meaning maps a built-in answer the node does not route to the first script intent the node routes that means it.
func (c *Conversation) meaning(n *Node, intent string) string {
	if intent == "" || nodeRoutes(n, intent) {
		return intent
	}
	for _, rt := range n.Routes {
		if c.s.means[rt.Intent][intent] {
			return rt.Intent
		}
	}
	return intent
}
