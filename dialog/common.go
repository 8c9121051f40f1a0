package dialog

import (
	"context"
	"sync"

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
	case IntentConfirm, IntentDeny, IntentRefuse, IntentWhoIsThis:
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
		if d.Name = builtinNames[d.Name]; own[d.Name] {
			continue
		}
		if isCommonIntent(d.Name) {
			commons = append(commons, d)
		} else {
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

// classify names the reply's intent. An Options.Classifier answers first when set. Then the rules: the best
// keyword or pattern hit that is not negated, among the script's intents and the global ones; the built-in
// yes/no/not-interested/who-is-this only when none of those matched. Last, the n-gram model when it is confident.
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
	best := bestMatch(c.s.und.Match(text), func(name string) float64 {
		switch {
		case c.s.intentBy[name] == nil:
			return 0.04 // a global intent: a request for a human outranks an incidental keyword
		case nodeRoutes(n, name):
			return 0.05 // what the prompt asked for; on a tie with a global, the script's own keyword wins
		}
		return 0
	})
	if best.Intent == "" {
		best = bestMatch(c.s.common.Match(text), func(string) float64 { return 0 })
	}
	if best.Intent == "" {
		if md := model(); md != nil {
			if ms, _ := md.Classify(ctx, text, c.s.candidates()); len(ms) > 0 {
				best = ms[0]
			}
		}
	}
	return best.Intent, min(best.Score, 1)
}

// bestMatch returns the best match that is not negated, its score raised by bonus.
func bestMatch(ms []nlu.Match, bonus func(string) float64) nlu.Match {
	var best nlu.Match
	for _, m := range ms {
		if m.Negated {
			continue
		}
		if m.Score += bonus(m.Intent); m.Score > best.Score {
			best = m
		}
	}
	return best
}
