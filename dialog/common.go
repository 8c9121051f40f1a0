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

// commonNames maps nlu's common intent names to the runtime's.
var commonNames = map[string]string{
	nlu.IntentConfirm: IntentConfirm, nlu.IntentDeny: IntentDeny, nlu.IntentRefuse: IntentRefuse,
	nlu.IntentWhoIsThis: IntentWhoIsThis, nlu.IntentHuman: IntentHuman, nlu.IntentOptOut: IntentOptOut,
	nlu.IntentRepeat: IntentRepeat, nlu.IntentWrongPerson: IntentWrongPerson, nlu.IntentBusy: IntentBusy,
}

// commonMatcher recognises nlu.CommonIntents, none negatable: 不需要 is a refusal, never a confirmation.
var commonMatcher = sync.OnceValue(func() *nlu.Matcher {
	m, err := nlu.NewMatcher(nlu.CommonIntents())
	if err != nil {
		panic("dialog: nlu.CommonIntents do not compile: " + err.Error()) // a bug in pkg/nlu, caught by any test
	}
	return m
})

func isCommonIntent(name string) bool {
	switch name {
	case IntentConfirm, IntentDeny, IntentRefuse, IntentWhoIsThis:
		return true
	}
	return false
}

// negationMatcher compiles the script's intents for nlu's negation analysis (不需要 negates 要, "don't need"
// negates "need"), which is finer than the keyword matcher's look at the characters just before a keyword.
// nil when they do not compile (Compile has reported why).
func negationMatcher(intents []Intent) *nlu.Matcher {
	defs := make([]nlu.IntentDef, 0, len(intents))
	for _, in := range intents {
		defs = append(defs, nlu.IntentDef{Name: in.Name, Keywords: in.Keywords, Patterns: in.Patterns, Negatable: true})
	}
	m, err := nlu.NewMatcher(defs)
	if err != nil {
		return nil
	}
	return m
}

// negatedIntents returns the script intents nlu hears only in the negative in text.
func (s *Script) negatedIntents(text string) map[string]bool {
	if s.neg == nil {
		return nil
	}
	var out map[string]bool
	for _, m := range s.neg.Match(text) {
		if m.Negated {
			if out == nil {
				out = map[string]bool{}
			}
			out[m.Intent] = true
		}
	}
	return out
}

// classifyCommon ranks the default intents the script does not define itself; the best one not negated wins.
func (c *Conversation) classifyCommon(ctx context.Context, text string) (string, float64) {
	names := make([]string, 0, len(commonNames))
	for nluName, name := range commonNames {
		if c.s.intentBy[name] == nil {
			names = append(names, nluName)
		}
	}
	ms, err := commonMatcher().Classify(ctx, text, names)
	if err != nil {
		return "", 0
	}
	for _, m := range ms {
		if !m.Negated {
			return commonNames[m.Intent], m.Score
		}
	}
	return "", 0
}
