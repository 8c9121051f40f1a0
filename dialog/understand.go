package dialog

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// Global intents, handled on every node unless the node routes on them itself.
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

var globalIntents = []Intent{
	{Name: IntentHuman, Keywords: []string{"转人工", "人工服务", "人工客服", "找人工", "真人", "客服", "人工", "agent", "human", "operator", "representative", "real person"}},
	{Name: IntentOptOut, Keywords: []string{"别再打", "不要再打", "别打了", "不要打了", "再打我就投诉", "不要给我打电话", "别给我打电话", "拉黑", "stop calling", "don't call", "do not call", "remove my number", "unsubscribe"}},
	{Name: IntentRepeat, Keywords: []string{"再说一遍", "再说一次", "没听清", "重复一下", "重复一遍", "你说什么", "say again", "say that again", "repeat", "pardon", "come again"}},
	{Name: IntentWrongPerson, Keywords: []string{"打错了", "不是本人", "我不是他", "我不是她", "不认识", "没这个人", "wrong number", "wrong person"}},
	{Name: IntentBusy, Keywords: []string{"在忙", "很忙", "没空", "开会", "在开车", "晚点打", "晚点再", "等会再", "回头再说", "待会", "busy", "call me later", "call back later", "not a good time"}},
}

func isGlobalIntent(name string) bool {
	for _, g := range globalIntents {
		if g.Name == name {
			return true
		}
	}
	return false
}

// Match is one ranked intent hypothesis.
type Match struct {
	Intent  string  // intent name
	Score   float64 // 0..1, higher is better
	Negated bool    // the utterance negates it (不需要, "not")
}

// Classifier ranks intents for an utterance among the candidate names; an adapter over pkg/nlu or an LLM
// classifier plugs in here. A nil Classifier, an error or an empty answer falls back to the script's keywords.
type Classifier interface {
	Classify(ctx context.Context, text string, intents []string) ([]Match, error)
}

var negations = []string{"不要", "不用", "不需要", "不想", "别", "不", "没", "未", "not ", "don't ", "do not ", "no "}

// keywordMatch scores in against text: the longest keyword (or pattern match) found, relative to the utterance.
func keywordMatch(in *Intent, text, lower string) (Match, bool) {
	best, bestNeg, found := 0, false, false
	for _, kw := range in.Keywords {
		k := strings.ToLower(kw)
		i := strings.Index(lower, k)
		if i < 0 {
			continue
		}
		n := utf8.RuneCountInString(k)
		neg := false
		before := lower[:i]
		for _, ng := range negations {
			if strings.HasSuffix(before, ng) && !strings.HasPrefix(k, strings.TrimSpace(ng)) {
				neg = true
				break
			}
		}
		if !found || n > best || (n == best && bestNeg && !neg) {
			best, bestNeg, found = n, neg, true
		}
	}
	for _, re := range in.res {
		if loc := re.FindStringIndex(text); loc != nil {
			n := utf8.RuneCountInString(text[loc[0]:loc[1]])
			if n == 0 {
				n = 1
			}
			if !found || n > best {
				best, bestNeg, found = n, false, true
			}
		}
	}
	if !found {
		return Match{}, false
	}
	total := utf8.RuneCountInString(text)
	if total < 1 {
		total = 1
	}
	score := 0.5 + 0.5*math.Min(1, float64(best)/float64(total))
	return Match{Intent: in.Name, Score: score, Negated: bestNeg}, true
}

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

// Extractor pulls a slot value of a kind (number, amount, date, time, yesno, digits) out of text; pkg/nlu's
// extractor is the default. ok is false when the text holds none.
type Extractor func(text, kind string, ref time.Time) (v any, ok bool)

var (
	arabicRE = regexp.MustCompile(`\d+(?:\.\d+)?`)
	cnNumRE  = regexp.MustCompile(`[零〇一二两三四五六七八九十百千万亿点]+`)
	digitsRE = regexp.MustCompile(`\d{3,}`)
	dayRE    = regexp.MustCompile(`([\d一二三四五六七八九十]{1,3})\s*[号日]`)
	monDayRE = regexp.MustCompile(`([\d一二三四五六七八九十]{1,3})\s*月\s*([\d一二三四五六七八九十]{1,3})\s*[号日]?`)
	clockRE  = regexp.MustCompile(`([\d一二两三四五六七八九十]{1,3})\s*[点:：]\s*(\d{1,2}|[一二三四五六七八九十]{1,3}|半)?`)
	weekRE   = regexp.MustCompile(`(下)?(?:周|星期|礼拜)([一二三四五六日天])`)
	// notAmountRE finds dates and times, whose numbers are not amounts.
	notAmountRE = regexp.MustCompile(`(?:下)?(?:周|星期|礼拜)[一二三四五六日天]|[\d一二三四五六七八九十]{1,3}\s*(?:月|号|日|点钟|点半)|[\d一二三四五六七八九十]{1,3}\s*点(?:[\d一二三四五六七八九十]{1,2}分)?(?:[^\d零一二三四五六七八九]|$)`)
)

var cnDigit = map[rune]int{'零': 0, '〇': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}

// parseChineseNumber reads simple Chinese numerals: 五百, 一千二, 两万, 三点五.
func parseChineseNumber(s string) (float64, bool) {
	intPart, frac, _ := strings.Cut(s, "点")
	total, section, digit := 0, 0, -1
	last := 0
	for _, r := range intPart {
		if d, ok := cnDigit[r]; ok {
			digit = d
			continue
		}
		unit := map[rune]int{'十': 10, '百': 100, '千': 1000, '万': 10000, '亿': 100000000}[r]
		if unit == 0 {
			return 0, false
		}
		if digit < 0 {
			digit = 1
		}
		if unit >= 10000 {
			total = (total + section + digit%unit) * unit
			if digit == 1 && section == 0 && total == unit {
				total = unit
			}
			section, digit, last = 0, -1, unit
			continue
		}
		section += digit * unit
		digit, last = -1, unit
	}
	if digit > 0 {
		// 一千二 means 1200: a trailing digit takes the unit below the last one.
		if last >= 10 && !strings.ContainsAny(intPart, "零〇") {
			section += digit * (last / 10)
		} else {
			section += digit
		}
	}
	v := float64(total + section)
	if frac != "" {
		scale := 0.1
		for _, r := range frac {
			d, ok := cnDigit[r]
			if !ok {
				return 0, false
			}
			v += float64(d) * scale
			scale /= 10
		}
	}
	return v, intPart != "" || frac != ""
}

// smallNumber reads "12" or "十二"; -1 when it is neither.
func smallNumber(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if f, ok := parseChineseNumber(s); ok {
		return int(f)
	}
	return -1
}

// basicExtract is the fallback extractor.
func basicExtract(text, kind string, ref time.Time) (any, bool) {
	switch kind {
	case "number", "amount":
		if kind == "amount" {
			text = notAmountRE.ReplaceAllString(text, " ")
		}
		if m := arabicRE.FindString(text); m != "" {
			f, err := strconv.ParseFloat(m, 64)
			if err == nil {
				if strings.Contains(text, m+"万") {
					f *= 10000
				}
				return f, true
			}
		}
		for _, m := range cnNumRE.FindAllString(text, -1) {
			if m == "点" {
				continue
			}
			if f, ok := parseChineseNumber(m); ok {
				return f, true
			}
		}
	case "digits":
		var b strings.Builder
		for _, r := range text {
			if d, ok := cnDigit[r]; ok && r != '两' {
				b.WriteByte(byte('0' + d))
			} else if r >= '0' && r <= '9' {
				b.WriteRune(r)
			} else if r == '幺' {
				b.WriteByte('1')
			}
		}
		if b.Len() >= 3 {
			return b.String(), true
		}
		if m := digitsRE.FindString(text); m != "" {
			return m, true
		}
	case "date":
		day := func(t time.Time) (any, bool) { return t.Format("2006-01-02"), true }
		lower := strings.ToLower(text)
		switch {
		case strings.Contains(text, "大后天"):
			return day(ref.AddDate(0, 0, 3))
		case strings.Contains(text, "后天"):
			return day(ref.AddDate(0, 0, 2))
		case strings.Contains(text, "明天") || strings.Contains(lower, "tomorrow"):
			return day(ref.AddDate(0, 0, 1))
		case strings.Contains(text, "今天") || strings.Contains(lower, "today"):
			return day(ref)
		}
		if m := weekRE.FindStringSubmatch(text); m != nil {
			want := map[string]int{"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 0, "天": 0}[m[2]]
			d := (want - int(ref.Weekday()) + 7) % 7
			if m[1] != "" {
				d = (7-int(ref.Weekday()))%7 + want
				if want == 0 {
					d += 7
				}
				if d == 0 {
					d = 7
				}
			} else if d == 0 {
				d = 7
			}
			return day(ref.AddDate(0, 0, d))
		}
		if m := monDayRE.FindStringSubmatch(text); m != nil {
			mo, dd := smallNumber(m[1]), smallNumber(m[2])
			if mo >= 1 && mo <= 12 && dd >= 1 && dd <= 31 {
				t := time.Date(ref.Year(), time.Month(mo), dd, 0, 0, 0, 0, ref.Location())
				if t.Before(ref.AddDate(0, 0, -1)) {
					t = t.AddDate(1, 0, 0)
				}
				return day(t)
			}
		}
		if m := dayRE.FindStringSubmatch(text); m != nil {
			dd := smallNumber(m[1])
			if dd >= 1 && dd <= 31 {
				t := time.Date(ref.Year(), ref.Month(), dd, 0, 0, 0, 0, ref.Location())
				if t.Before(ref.AddDate(0, 0, -1)) {
					t = t.AddDate(0, 1, 0)
				}
				return day(t)
			}
		}
	case "time":
		if m := clockRE.FindStringSubmatch(text); m != nil {
			h, mi := smallNumber(m[1]), 0
			switch {
			case m[2] == "半":
				mi = 30
			case m[2] != "":
				mi = smallNumber(m[2])
			}
			if (strings.Contains(text, "下午") || strings.Contains(text, "晚上")) && h < 12 {
				h += 12
			}
			if h >= 0 && h < 24 && mi >= 0 && mi < 60 {
				return time.Date(0, 1, 1, h, mi, 0, 0, time.UTC).Format("15:04"), true
			}
		}
	case "yesno":
		lower := strings.ToLower(text)
		for _, w := range []string{"不是", "不对", "没有", "不行", "不要", "不用", "no", "不"} {
			if strings.Contains(lower, w) {
				return false, true
			}
		}
		for _, w := range []string{"是的", "对", "好", "可以", "行", "嗯", "是", "有", "yes", "yeah", "ok", "sure", "right"} {
			if strings.Contains(lower, w) {
				return true, true
			}
		}
	}
	return nil, false
}

// extractSlot applies a slot definition to text: a pattern narrows the text first, enum slots match keywords,
// text slots take the utterance.
func extractSlot(sl *Slot, text string, ref time.Time, ex Extractor) (any, bool) {
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
	if ex != nil {
		if v, ok := ex(src, sl.Kind, ref); ok {
			return normalizeSlot(sl.Kind, v)
		}
	}
	return basicExtract(src, sl.Kind, ref)
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
