package dialog

import (
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/outcall/outcall/pkg/nlu"
)

// Global intents, handled on every node unless the node routes on them itself (see Conversation.Step for the
// order of precedence).
const (
	IntentHuman       = "human"        // asks for a human agent (转人工, "agent")
	IntentOptOut      = "opt_out"      // asks never to be called again (别再打了, "stop calling")
	IntentRepeat      = "repeat"       // asks to hear the prompt again (再说一遍, "say again")
	IntentWrongPerson = "wrong_person" // not the intended callee (打错了, "wrong number")
	IntentBusy        = "busy"         // cannot talk now (在忙, "call me later")
)

// Outcome tags the runtime sets itself.
const (
	TagHuman       = "human"        // transferred to a human
	TagOptOut      = "opt_out"      // asked not to be called again: campaigns add a do-not-call entry
	TagWrongPerson = "wrong_person" // reached the wrong person
	TagCallback    = "callback"     // asked to be called back later; Outcome.CallbackAt says when
	TagNoResponse  = "no_response"  // stayed silent past the limits
	TagUnresolved  = "unresolved"   // too many turns the script could not resolve
	TagAgitated    = "agitated"     // the caller's mood escalated to a human
	TagHangup      = "hangup"       // the callee hung up before the script ended
)

// Classifier ranks intents for an utterance among the candidate names, best first: pkg/nlu's *nlu.Matcher,
// *nlu.Model and *nlu.LLMClassifier implement it. Set as Options.Classifier it replaces the script's rules; an
// error or an empty answer falls back to them.
type Classifier = nlu.Classifier

// Sentiment scores an utterance from -1 (very negative) to 1 (very positive); the default is nlu.Sentiment.
type Sentiment func(text string) float64

// Mood is the caller's mood over the call, with hysteresis.
type Mood string

// Moods.
const (
	Calm     Mood = "calm"
	Upset    Mood = "upset"    // prompts switch to the node's soft variants
	Agitated Mood = "agitated" // escalates to a human when Settings.HumanOnAgitated
)

// moodOf updates the rolling score (exponential average) and the level with hysteresis: Upset below -0.3,
// Agitated below -0.6, back to Calm only above -0.15.
func moodOf(prev Mood, rolling, score float64) (Mood, float64) {
	r := 0.5*rolling + 0.5*score
	if score <= -0.8 {
		r = math.Min(r, score) // one furious utterance is enough
	}
	m := prev
	switch {
	case r <= -0.6:
		m = Agitated
	case r <= -0.3:
		if prev != Agitated {
			m = Upset
		}
	case r > -0.15:
		m = Calm
	}
	if m == "" {
		m = Calm
	}
	return m, r
}

// extractSlot applies a slot definition to text: a pattern narrows the text first, enum slots match keywords,
// text slots take the utterance.
func extractSlot(sl *Slot, text string, ref time.Time) (any, bool) {
	src := text
	if sl.re != nil {
		m := sl.re.FindStringSubmatch(text)
		if m == nil {
			return nil, false
		}
		src = m[0]
		if len(m) > 1 && m[1] != "" {
			src = m[1]
		}
	}
	switch sl.Kind {
	case "text":
		src = strings.TrimSpace(src)
		return src, src != ""
	case "enum":
		lower := strings.ToLower(src)
		best, bestLen := "", 0
		for _, v := range sortedKeys(sl.Values) {
			for _, kw := range sl.Values[v] {
				if n := utf8.RuneCountInString(kw); strings.Contains(lower, strings.ToLower(kw)) && n > bestLen {
					best, bestLen = v, n
				}
			}
		}
		return best, best != ""
	}
	return slotValue(src, sl.Kind, ref)
}

// slotValue reads a slot of kind from the callee's words with nlu.Slot: no number without a money context for an
// amount, no date from a question that proposes none.
func slotValue(text, kind string, ref time.Time) (any, bool) {
	v, ok := nlu.Slot(text, nlu.SlotKind(kind), ref)
	if !ok {
		return nil, false
	}
	switch v.Kind {
	case nlu.KindDate:
		return v.Time.Format("2006-01-02"), true
	case nlu.KindTime:
		return v.Time.Format("15:04"), true
	case nlu.KindYesNo:
		return v.Bool, true
	case nlu.KindDigits:
		return v.Digits, v.Digits != ""
	}
	return v.Number, true
}

// normalizeSlot converts an external extractor's value to the slot kind's type (float64, string or bool).
func normalizeSlot(kind string, v any) (any, bool) {
	switch kind {
	case "number", "amount":
		switch x := v.(type) {
		case float64:
			return x, true
		case int:
			return float64(x), true
		case int64:
			return float64(x), true
		}
	case "yesno":
		b, ok := v.(bool)
		return b, ok
	case "date":
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02"), true
		}
	case "time":
		if t, ok := v.(time.Time); ok {
			return t.Format("15:04"), true
		}
	}
	switch x := v.(type) {
	case string:
		return x, x != ""
	case interface{ String() string }:
		return x.String(), true
	}
	return nil, false
}

// cjkLen counts what a listener hears as units: CJK characters one each, other words one each.
func cjkLen(text string) int {
	n, inWord := 0, false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			n++
			inWord = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if !inWord {
				n++
			}
			inWord = true
		default:
			inWord = false
		}
	}
	return n
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	}
	return 0
}

var templateFuncs = template.FuncMap{
	// mul multiplies two numbers: {{money (mul .amount 0.3)}}.
	"mul": func(a, b any) float64 { return toFloat(a) * toFloat(b) },
	// money prints an amount with two decimals.
	"money": func(v any) string {
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', 2, 64)
		case int:
			return strconv.Itoa(x) + ".00"
		}
		return ""
	},
	// pct prints a fraction (0.3) as a whole percentage (30).
	"pct": func(v any) string {
		switch x := v.(type) {
		case float64:
			return strconv.Itoa(int(math.Round(x * 100)))
		case int:
			return strconv.Itoa(x * 100)
		}
		return ""
	},
}
