package nlu

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SlotKind names the kind of value a slot holds.
type SlotKind string

// Slot kinds understood by Extract.
const (
	KindNumber  SlotKind = "number"  // a quantity: 一千二, 两万, 三点五, "twenty five"
	KindAmount  SlotKind = "amount"  // money: 1250元, 一千二百五十块五毛, ¥1,250.50, "$40"
	KindDate    SlotKind = "date"    // a day: 明天, 下周一, 本月十五号, 11月23日, "next Monday", "the 15th"
	KindTime    SlotKind = "time"    // a clock time: 下午三点, 三点半, "3:30 pm" (on the date said, else ref's day; a bare 三点 is 03:00)
	KindYesNo   SlotKind = "yesno"   // 是的 / 不是, "yes" / "no"
	KindDigits  SlotKind = "digits"  // digits read one by one: 尾号六七八九, 幺三八, "four five six seven", 13800138000
	KindPercent SlotKind = "percent" // 百分之五, 5%, "five percent", 五成 (Number is the percentage: 5 for 5%)
)

// Value is one slot value found in an utterance.
type Value struct {
	// Kind is what the value is.
	Kind SlotKind
	// Text is the part of the utterance the value was read from, as the callee's text has it.
	Text string
	// Number holds number, amount (in the currency's main unit: 元, dollars) and percent values; for digits, the
	// digits' integer value when it fits exactly in a float64.
	Number float64
	// Time holds date (midnight in ref's location) and time values.
	Time time.Time
	// Bool holds yesno values.
	Bool bool
	// Digits holds digits values ("0138"), keeping leading zeros.
	Digits string
}

// Extract returns the first value of kind in text; relative dates and times resolve against ref (a zero ref means
// now). For KindNumber an amount or percent also answers (its Number); for KindDigits a plain whole number does
// ("1234").
func Extract(text string, kind SlotKind, ref time.Time) (Value, bool) {
	all := ExtractAll(text, ref)
	for _, v := range all {
		if v.Kind == kind {
			return v, true
		}
	}
	for _, v := range all {
		switch {
		case kind == KindNumber && (v.Kind == KindAmount || v.Kind == KindPercent):
			v.Kind = KindNumber
			return v, true
		case kind == KindDigits && v.Kind == KindNumber && v.Number == math.Trunc(v.Number) && v.Number >= 0 &&
			isPlainDigits(v.Text):
			v.Kind, v.Digits = KindDigits, strings.TrimSpace(normalize(v.Text))
			return v, true
		}
	}
	return Value{}, false
}

func isPlainDigits(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, r := range normalize(s) {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ExtractAll returns every value in text in the order spoken. Each stretch of text yields one value of the most
// specific kind: "11月23日" is a date (not two numbers), "13800138000" digits (not an amount), "500元" an amount. A
// yes/no answer, if any, comes first.
func ExtractAll(text string, ref time.Time) []Value {
	if ref.IsZero() {
		ref = time.Now()
	}
	t := normalize(text)
	c := convert(t)
	x := extractor{c: &c, orig: text, ref: ref}
	for ri, r := range recognizers {
		if r.needDigit && !strings.ContainsAny(c.s, "0123456789") {
			continue
		}
		if r.hint != "" && !containsAny(c.s, hintLists[ri]) {
			continue
		}
		for _, loc := range r.re.FindAllStringSubmatchIndex(c.s, -1) {
			if loc[0] > 0 && r.needDigit && isDigitByte(c.s[loc[0]]) && (isDigitByte(c.s[loc[0]-1]) || c.s[loc[0]-1] == '.') {
				continue // inside a longer number
			}
			core := loc[0]
			if len(r.prefixes) > 0 {
				loc = x.withPrefix(loc, r.prefixes)
			}
			if x.claimed(core, loc[1]) {
				continue
			}
			x.end = 0
			v, ok := r.fn(&x, loc)
			if !ok {
				continue
			}
			start, end := loc[0], loc[1]
			if x.end > 0 {
				end = x.end
			}
			if x.claimed(start, core) {
				start = core // 明晚八点: 明晚 is already the date; it still makes 八点 20:00
			}
			x.add(v, start, end)
		}
	}
	x.numbers()
	sort.SliceStable(x.found, func(i, j int) bool { return x.found[i].start < x.found[j].start })
	// A time takes the date said with it ("明天下午三点"), else ref's day.
	var day *time.Time
	for _, f := range x.found {
		if f.v.Kind == KindDate {
			d := f.v.Time
			day = &d
			break
		}
	}
	out := make([]Value, 0, len(x.found)+1)
	if yn, ok := yesNo(text); ok {
		out = append(out, yn)
	}
	for _, f := range x.found {
		if f.v.Kind == KindTime && day != nil {
			tm := f.v.Time
			f.v.Time = time.Date(day.Year(), day.Month(), day.Day(), tm.Hour(), tm.Minute(), 0, 0, ref.Location())
		}
		out = append(out, f.v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

type found struct {
	v          Value
	start, end int // byte range in the converted text
}

type extractor struct {
	c     *converted
	orig  string
	ref   time.Time
	found []found
	end   int // set by a recognizer that takes less than its match
}

// withPrefix looks for one of prefixes right before the match (spaces between allowed) and returns the match
// extended over it, with the prefix as group 1 (-1, -1 when absent) and the pattern's groups shifted by one.
func (x *extractor) withPrefix(loc []int, prefixes []string) []int {
	out := make([]int, 0, len(loc)+2)
	start := loc[0]
	before := strings.TrimRight(x.c.s[:start], " ")
	ps, pe := -1, -1
	for _, p := range prefixes {
		if strings.HasSuffix(before, p) {
			b := len(before) - len(p)
			if isASCIIAlnum(p[0]) && b > 0 && isASCIIAlnum(before[b-1]) {
				continue // "unless" is not "less"
			}
			ps, pe, start = b, len(before), b
			break
		}
	}
	out = append(out, start, loc[1], ps, pe)
	return append(out, loc[2:]...)
}

func (x *extractor) claimed(a, b int) bool {
	for _, f := range x.found {
		if a < f.end && f.start < b {
			return true
		}
	}
	return false
}

func (x *extractor) add(v Value, a, b int) {
	// Trim spaces the pattern took at either end.
	for a < b && x.c.s[a] == ' ' {
		a++
	}
	for b > a && x.c.s[b-1] == ' ' {
		b--
	}
	os, oe := x.c.origRange(a, b)
	v.Text = runeSlice(x.orig, os, oe)
	x.found = append(x.found, found{v: v, start: a, end: b})
}

// numbers claims every remaining number: digit readings and long digit runs as digits, the rest as numbers.
func (x *extractor) numbers() {
	s := x.c.s
	for _, loc := range reNumber.FindAllStringIndex(s, -1) {
		a, b := loc[0], loc[1]
		if x.claimed(a, b) {
			continue
		}
		m := s[a:b]
		os, oe := x.c.origRange(a, b)
		arabic := isPlainDigits(runeSlice(x.orig, os, oe))
		if x.c.isDigitReading(a, b) || arabic && (len(m) >= 5 || len(m) >= 2 && m[0] == '0') || phoneLike(m) ||
			!strings.Contains(m, ".") && digitContext(s[:a]) && !strings.HasPrefix(s[b:], "位") {
			d := m
			if b < len(s) && s[b] == 'x' && len(d) == 17 { // 身份证 check character
				d += "X"
				b++
			}
			v := Value{Kind: KindDigits, Digits: d}
			if len(m) <= 15 {
				v.Number, _ = strconv.ParseFloat(m, 64)
			}
			x.add(v, a, b)
			continue
		}
		f, err := strconv.ParseFloat(m, 64)
		if err != nil {
			continue
		}
		x.add(Value{Kind: KindNumber, Number: f}, a, b)
	}
}

var reNumber = regexp.MustCompile(`\d+(?:\.\d+)?`)

// phoneLike reports a Chinese mobile number (1[3-9] and 9 more digits) or a number with a leading zero (area code,
// card tail): digits to keep as written, never a quantity.
func phoneLike(m string) bool {
	if len(m) >= 2 && m[0] == '0' && m[1] != '.' {
		return true
	}
	if len(m) != 11 || m[0] != '1' || m[1] < '3' {
		return false
	}
	for i := range len(m) {
		if !isDigitByte(m[i]) {
			return false
		}
	}
	return true
}

// digitCues before a number mark it as digits being read (card tail, code) whatever its length.
var digitCues = []string{"尾号", "位是", "位:", "卡号", "验证码", "身份证", "手机号", "号码", "电话", "工号", "编号", "账号",
	"last four", "last 4", "ends in", "ending in", "code", "pin", "digits", "number is", "phone"}

func digitContext(before string) bool {
	if n := len(before); n > 24 {
		before = before[n-24:]
		for !utf8.ValidString(before) && before != "" {
			before = before[1:]
		}
	}
	for _, c := range digitCues {
		if strings.Contains(before, c) {
			return true
		}
	}
	return false
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// hintLists holds each recognizer's hint split at "|".
var hintLists = func() [][]string {
	out := make([][]string, len(recognizers))
	for i, r := range recognizers {
		if r.hint != "" {
			out[i] = strings.Split(r.hint, "|")
		}
	}
	return out
}()

func containsAny(s string, hints []string) bool {
	for _, h := range hints {
		if strings.Contains(s, h) {
			return true
		}
	}
	return false
}

// recognizer finds one kind of value with a regular expression over the converted text. Earlier recognizers claim
// their text first: percentages and amounts with a currency, then dates, times, amounts known by a money verb.
type recognizer struct {
	re        *regexp.Regexp
	needDigit bool   // skip when the text has no digit
	hint      string // skip unless one of these |-separated substrings occurs (cheap prefilter)
	// prefixes are words that may come just before the match and qualify it (下周一, "next Monday"); the one found
	// becomes group 1 for fn, the pattern's own groups follow. Looking back by hand is much cheaper than an
	// optional group at the start of the pattern.
	prefixes []string
	fn       func(x *extractor, loc []int) (Value, bool)
}

const numRE = `(\d+(?:\.\d+)?)`

var recognizers = []recognizer{
	// Percentages.
	{re: regexp.MustCompile(`百分之\s*` + numRE), needDigit: true, hint: "百分之",
		fn: func(x *extractor, l []int) (Value, bool) { return x.number(KindPercent, x.group(l, 1), 1) }},
	{re: regexp.MustCompile(numRE + `\s*(?:%|percent\b|per\s+cent\b)`), needDigit: true, hint: "%|percent|per cent",
		fn: func(x *extractor, l []int) (Value, bool) { return x.number(KindPercent, x.group(l, 1), 1) }},
	{re: regexp.MustCompile(`(\d)\s*成`), needDigit: true, hint: "成",
		fn: func(x *extractor, l []int) (Value, bool) { return x.number(KindPercent, x.group(l, 1), 10) }},
	// Amounts: a currency sign or word, or a money verb before the number.
	{re: regexp.MustCompile(`(¥|\$|us\$|rmb|usd|cny)\s*` + numRE + `\s*(k\b|千|万|thousand\b|million\b)?`), needDigit: true, hint: "¥|$|rmb|usd|cny",
		fn: func(x *extractor, l []int) (Value, bool) {
			mult := map[string]float64{"": 1, "k": 1e3, "千": 1e3, "万": 1e4, "thousand": 1e3, "million": 1e6}[x.group(l, 3)]
			return x.number(KindAmount, x.group(l, 2), mult)
		}},
	{re: regexp.MustCompile(numRE + `\s*(千|thousand|million|k)?\s*(块钱|块|元|圆|人民币|yuan|rmb|dollars?|bucks|usd)(?:\s*(\d)\s*(毛|角)?)?(?:\s*(\d)\s*分)?(钱)?`),
		needDigit: true, hint: "块|元|圆|人民币|yuan|rmb|dollar|buck|usd",
		fn: func(x *extractor, l []int) (Value, bool) {
			mult := map[string]float64{"": 1, "k": 1e3, "千": 1e3, "thousand": 1e3, "million": 1e6}[x.group(l, 2)]
			v, ok := x.number(KindAmount, x.group(l, 1), mult)
			if !ok {
				return v, false
			}
			cur := x.group(l, 3)
			jiao, jiaoUnit, fen := x.group(l, 4), x.group(l, 5), x.group(l, 6)
			if jiao != "" && jiaoUnit == "" && (strings.HasPrefix(cur, "块") && fen == "" && !x.followedByUnit(l[1])) {
				jiaoUnit = "毛" // 三块五 = 3.5
			}
			if jiao != "" && jiaoUnit != "" {
				j, _ := strconv.Atoi(jiao)
				v.Number += float64(j) / 10
				if fen != "" {
					f, _ := strconv.Atoi(fen)
					v.Number += float64(f) / 100
				}
			} else if jiao != "" {
				x.end = l[7] // "100块3天后": the number after 块 stands alone
			}
			v.Number = math.Round(v.Number*100) / 100
			return v, true
		}},
	{re: regexp.MustCompile(`(\d)\s*(?:毛|角)(?:\s*(\d)\s*分?)?(钱)?`), needDigit: true, hint: "毛|角",
		fn: func(x *extractor, l []int) (Value, bool) {
			j, _ := strconv.Atoi(x.group(l, 1))
			f, _ := strconv.Atoi(x.group(l, 2))
			return Value{Kind: KindAmount, Number: math.Round(float64(j*10+f)) / 100}, true
		}},
	{re: regexp.MustCompile(numRE + `\s*cents?\b`), needDigit: true, hint: "cent",
		fn: func(x *extractor, l []int) (Value, bool) { return x.number(KindAmount, x.group(l, 1), 0.01) }},
	// Dates with a month: 2026年11月23日, 11月23号.
	{re: regexp.MustCompile(`(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*(?:日|号)?`), needDigit: true, hint: "月",
		fn: func(x *extractor, l []int) (Value, bool) {
			return x.monthDay(x.group(l, 1), x.group(l, 2), x.group(l, 3))
		}},
	{re: regexp.MustCompile(`(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})`), needDigit: true, hint: "-|/|.",
		fn: func(x *extractor, l []int) (Value, bool) {
			return x.monthDay(x.group(l, 1), x.group(l, 2), x.group(l, 3))
		}},
	// 本月15号, 下个月3号, 15号.
	{re: regexp.MustCompile(`(\d{1,2})\s*(?:号|日)`), needDigit: true, hint: "号|日",
		prefixes: []string{"这个月", "下个月", "上个月", "本月", "这月", "下月", "上月"},
		fn: func(x *extractor, l []int) (Value, bool) {
			if rest := x.c.s[l[1]:]; strings.HasPrefix(rest, "线") || strings.HasPrefix(rest, "楼") ||
				strings.HasPrefix(rest, "房") || strings.HasPrefix(rest, "床") || strings.HasPrefix(rest, "码") ||
				strings.HasPrefix(rest, "院") || strings.HasPrefix(rest, "门") {
				return Value{}, false // 三号线, 5号楼: a name, not a day
			}
			return x.dayOfMonth(x.group(l, 1), x.group(l, 2))
		}},
	// Relative days.
	{re: regexp.MustCompile(`大后天|大前天|今天|今日|今儿|明天|明日|明儿|后天|昨天|昨日|前天|今晚|明早|明晚`), hint: "天|日|儿|晚|早",
		fn: func(x *extractor, l []int) (Value, bool) {
			off := map[string]int{"大后天": 3, "大前天": -3, "今天": 0, "今日": 0, "今儿": 0, "今晚": 0, "明天": 1, "明日": 1,
				"明儿": 1, "明早": 1, "明晚": 1, "后天": 2, "昨天": -1, "昨日": -1, "前天": -2}[x.c.s[l[0]:l[1]]]
			return x.date(x.day().AddDate(0, 0, off))
		}},
	{re: regexp.MustCompile(numRE + `\s*(?:个)?(天|日|周|星期|礼拜|个月|月)\s*(?:后|以后|之后)`), needDigit: true, hint: "后",
		fn: func(x *extractor, l []int) (Value, bool) {
			n, err := strconv.Atoi(x.group(l, 1))
			if err != nil || n > 3650 {
				return Value{}, false
			}
			switch x.group(l, 2) {
			case "天", "日":
				return x.date(x.day().AddDate(0, 0, n))
			case "月", "个月":
				return x.date(x.day().AddDate(0, n, 0))
			}
			return x.date(x.day().AddDate(0, 0, 7*n))
		}},
	// End or start of a month: 月底, 下个月初, "end of the month".
	{re: regexp.MustCompile(`(本月|这个月|这月|下个?月|下月)?\s*(月底|月末|底|月初|初)|\b(end|beginning|start)\s+of\s+(?:the\s+|this\s+)?(next\s+)?month\b`),
		hint: "月|month",
		fn: func(x *extractor, l []int) (Value, bool) {
			rel, which := x.group(l, 1), x.group(l, 2)
			if which == "" {
				rel, which = x.group(l, 4), x.group(l, 3)
			}
			if (which == "底" || which == "初") && rel == "" {
				return Value{}, false // a bare 底 or 初 is no date
			}
			add := 0
			if strings.HasPrefix(rel, "下") || rel == "next " {
				add = 1
			}
			d := x.day()
			first := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, d.Location()).AddDate(0, add, 0)
			if strings.Contains(which, "底") || strings.Contains(which, "末") || which == "end" {
				return x.date(first.AddDate(0, 1, -1))
			}
			return x.date(first)
		}},
	// Weekdays: 下周一, 这周五, 星期天, 周末.
	{re: regexp.MustCompile(`(?:周|星期|礼拜)\s*([1-7日天末])`), hint: "周|星期|礼拜",
		prefixes: []string{"下下个", "下下", "下个", "这个", "上个", "下", "这", "本", "上"},
		fn: func(x *extractor, l []int) (Value, bool) {
			wd := map[string]int{"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "日": 7, "天": 7, "末": 6}[x.group(l, 2)]
			rel := x.group(l, 1)
			week := 0
			switch {
			case strings.HasPrefix(rel, "下下"):
				week = 2
			case strings.HasPrefix(rel, "下"):
				week = 1
			case strings.HasPrefix(rel, "上"):
				week = -1
			case rel == "":
				return x.date(x.nextWeekday(wd))
			}
			return x.date(x.weekday(week, wd))
		}},
	// English dates.
	{re: regexp.MustCompile(`\b(?:the\s+)?day\s+after\s+tomorrow\b`), hint: "after",
		fn: func(x *extractor, l []int) (Value, bool) { return x.date(x.day().AddDate(0, 0, 2)) }},
	{re: regexp.MustCompile(`\b(?:the\s+)?day\s+before\s+yesterday\b`), hint: "before",
		fn: func(x *extractor, l []int) (Value, bool) { return x.date(x.day().AddDate(0, 0, -2)) }},
	{re: regexp.MustCompile(`\b(today|tonight|tomorrow|yesterday)\b`), hint: "to|yes",
		fn: func(x *extractor, l []int) (Value, bool) {
			off := map[string]int{"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1}[x.group(l, 1)]
			return x.date(x.day().AddDate(0, 0, off))
		}},
	{re: regexp.MustCompile(`\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b`),
		prefixes: []string{"next", "this", "coming", "last"},
		hint:     "day",
		fn: func(x *extractor, l []int) (Value, bool) {
			wd := map[string]int{"monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
				"sunday": 7}[x.group(l, 2)]
			switch x.group(l, 1) {
			case "next":
				return x.date(x.weekday(1, wd))
			case "this":
				return x.date(x.weekday(0, wd))
			case "last":
				return x.date(x.weekday(-1, wd))
			}
			return x.date(x.nextWeekday(wd))
		}},
	{re: regexp.MustCompile(`\bin\s+(\d+)\s+(days?|weeks?|months?)\b|\b(\d+)\s+(days?|weeks?|months?)\s+(?:from now|later)\b`),
		needDigit: true, hint: "day|week|month",
		fn: func(x *extractor, l []int) (Value, bool) {
			ns, unit := x.group(l, 1), x.group(l, 2)
			if ns == "" {
				ns, unit = x.group(l, 3), x.group(l, 4)
			}
			n, err := strconv.Atoi(ns)
			if err != nil || n > 3650 {
				return Value{}, false
			}
			switch unit[0] {
			case 'd':
				return x.date(x.day().AddDate(0, 0, n))
			case 'w':
				return x.date(x.day().AddDate(0, 0, 7*n))
			}
			return x.date(x.day().AddDate(0, n, 0))
		}},
	{re: regexp.MustCompile(`\b` + monthNamesRE + `\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*(\d{4})\b)?`), needDigit: true, hint: "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec",
		fn: func(x *extractor, l []int) (Value, bool) {
			return x.monthDay(x.group(l, 3), strconv.Itoa(monthNum(x.group(l, 1))), x.group(l, 2))
		}},
	{re: regexp.MustCompile(`\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?` + monthNamesRE + `\b(?:,?\s*(\d{4})\b)?`), needDigit: true, hint: "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec",
		fn: func(x *extractor, l []int) (Value, bool) {
			return x.monthDay(x.group(l, 3), strconv.Itoa(monthNum(x.group(l, 2))), x.group(l, 1))
		}},
	{re: regexp.MustCompile(`\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b(?:\s+of\s+(?:the\s+|this\s+)?(next\s+)?month\b)?|\b(\d{1,2})(?:st|nd|rd|th)\s+of\s+(?:the\s+|this\s+)?(next\s+)?month\b`),
		needDigit: true, hint: "st|nd|rd|th",
		fn: func(x *extractor, l []int) (Value, bool) {
			d, next := x.group(l, 1), x.group(l, 2)
			if d == "" {
				d, next = x.group(l, 3), x.group(l, 4)
			}
			if next != "" {
				return x.dayOfMonth("下月", d)
			}
			return x.dayOfMonth("", d)
		}},
	// English clock times: 3:30 pm, 3 pm, 15:30, half past three, at 3.
	{re: regexp.MustCompile(`\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o'clock)(?:\s|$|[^a-z])`), needDigit: true, hint: "am|a.m|pm|p.m|o'clock",
		fn: func(x *extractor, l []int) (Value, bool) {
			return x.clock(x.group(l, 1), x.group(l, 2), x.group(l, 3), l[1])
		}},
	{re: regexp.MustCompile(`\b(half|quarter)\s+(past|to)\s+(\d{1,2})\b`), needDigit: true, hint: "past|to",
		fn: func(x *extractor, l []int) (Value, bool) {
			h, _ := strconv.Atoi(x.group(l, 3))
			m := 30
			if x.group(l, 1) == "quarter" {
				m = 15
			}
			if x.group(l, 2) == "to" {
				h, m = h-1, 60-m
			}
			return x.clock(strconv.Itoa(h), strconv.Itoa(m), "", l[1])
		}},
	{re: regexp.MustCompile(`\b(noon|midday|midnight)\b`), hint: "noon|midday|midnight",
		fn: func(x *extractor, l []int) (Value, bool) {
			if x.group(l, 1) == "midnight" {
				return x.clock("0", "", "", l[1])
			}
			return x.clock("12", "", "", l[1])
		}},
	// Chinese clock times: 下午3点半, 3点15分, 3点1刻, 15:30.
	{re: regexp.MustCompile(`(\d{1,2})\s*(?:点|:|：)\s*(?:(半)|([1-3])\s*刻|(\d{1,2})\s*分?)?\s*(钟|整)?`),
		needDigit: true, hint: "点|:|：",
		prefixes: timePrefixes,
		fn: func(x *extractor, l []int) (Value, bool) {
			prefix, h, half, quarter, mins, suffix := x.group(l, 1), x.group(l, 2), x.group(l, 3), x.group(l, 4), x.group(l, 5), x.group(l, 6)
			sep := strings.TrimSpace(x.c.s[l[4]+len(h) : l[1]])
			if prefix == "" && half == "" && mins == "" && quarter == "" && suffix == "" && h == "1" {
				return Value{}, false // 一点 = "a little"
			}
			if strings.HasPrefix(sep, ":") && mins == "" {
				return Value{}, false
			}
			m := mins
			switch {
			case half != "":
				m = "30"
			case quarter != "":
				q, _ := strconv.Atoi(quarter)
				m = strconv.Itoa(15 * q)
			}
			ampm := ""
			switch prefix {
			case "下午", "傍晚", "晚上", "今晚", "明晚", "夜里":
				ampm = "pm"
			case "中午":
				if hh, _ := strconv.Atoi(h); hh < 6 {
					ampm = "pm"
				}
			case "半夜", "凌晨":
				if h == "12" {
					h = "0"
				}
			}
			midnight := ampm == "pm" && h == "12" && prefix != "下午"
			if midnight {
				h, ampm = "0", "" // 晚上十二点 is the midnight that ends the day
			}
			v, ok := x.clock(h, m, ampm, l[1])
			if ok && prefix != "" {
				off := map[string]int{"明晚": 1, "明早": 1}[prefix]
				if midnight {
					off++
				}
				if off != 0 {
					d := x.day().AddDate(0, 0, off)
					v.Time = time.Date(d.Year(), d.Month(), d.Day(), v.Time.Hour(), v.Time.Minute(), 0, 0, x.ref.Location())
				}
			}
			return v, ok
		}},
	{re: regexp.MustCompile(`\bat\s+(\d{1,2})(?::(\d{2}))?\b`), needDigit: true, hint: "at",
		fn: func(x *extractor, l []int) (Value, bool) {
			return x.clock(x.group(l, 1), x.group(l, 2), "", l[1])
		}},
	// Digits read with pauses: "4 5 6 7", card numbers in groups "6222 0212 3456 7890".
	{re: regexp.MustCompile(`\b\d(?:[ -]\d\b){2,}|\b\d{4}(?:[ -]\d{4}\b){2,4}`), needDigit: true, hint: " |-",
		fn: func(x *extractor, l []int) (Value, bool) {
			d := strings.NewReplacer(" ", "", "-", "").Replace(x.c.s[l[0]:l[1]])
			return Value{Kind: KindDigits, Digits: d}, true
		}},
	{re: regexp.MustCompile(numRE + `\s*(千|万|thousand\b|million\b|k\b)?`), needDigit: true,
		hint: "还|欠|付|交|金额|额度|余额|账单|转|借|价格|费用|花了|总共|一共|owe|pay|paid|balance|cost",
		prefixes: []string{"还款", "欠款", "欠了", "欠", "还了", "先还", "能还", "只能还", "还", "付款", "付了", "付", "交", "金额",
			"额度", "余额", "账单", "转账", "转了", "借了", "借款", "价格", "费用", "花了", "总共", "一共", "owe", "pay back", "pay",
			"paid", "balance of", "cost", "costs"},
		fn: func(x *extractor, l []int) (Value, bool) {
			if l[2] < 0 || x.followedByUnit(l[1]) || phoneLike(x.group(l, 2)) {
				return Value{}, false // no money word before it; 还3天, 欠2期; 转账13800138000 is a phone number
			}
			mult := map[string]float64{"": 1, "千": 1e3, "万": 1e4, "thousand": 1e3, "million": 1e6, "k": 1e3}[x.group(l, 3)]
			v, ok := x.number(KindAmount, x.group(l, 2), mult)
			if ok && x.c.isDigitReading(l[4], l[5]) {
				return Value{}, false
			}
			return v, ok
		}},
}

// followedByUnit reports whether a non-money counting unit follows byte offset i (天, 号, 期, "days").
func (x *extractor) followedByUnit(i int) bool {
	rest := strings.TrimLeft(x.c.s[i:], " ")
	for _, u := range []string{"天", "号", "日", "月", "年", "点", "个", "次", "期", "周", "岁", "%", "成", "days", "day", "weeks", "months", "percent", "%"} {
		if strings.HasPrefix(rest, u) {
			return true
		}
	}
	return false
}

const monthNamesRE = `(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)`

func monthNum(name string) int {
	for i, m := range []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if strings.HasPrefix(name, m) {
			return i + 1
		}
	}
	return 0
}

func (x *extractor) group(l []int, g int) string {
	if 2*g+1 >= len(l) || l[2*g] < 0 {
		return ""
	}
	return x.c.s[l[2*g]:l[2*g+1]]
}

func (x *extractor) day() time.Time {
	y, m, d := x.ref.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, x.ref.Location())
}

func (x *extractor) date(t time.Time) (Value, bool) { return Value{Kind: KindDate, Time: t}, true }

// weekday returns weekday wd (1 Monday … 7 Sunday) of the week week weeks from ref's week (weeks start on Monday).
func (x *extractor) weekday(week, wd int) time.Time {
	today := isoWeekday(x.ref)
	return x.day().AddDate(0, 0, 7*week+wd-today)
}

// nextWeekday returns the next wd on or after ref's day.
func (x *extractor) nextWeekday(wd int) time.Time {
	return x.day().AddDate(0, 0, (wd-isoWeekday(x.ref)+7)%7)
}

func isoWeekday(t time.Time) int {
	wd := int(t.Weekday())
	if wd == 0 {
		return 7
	}
	return wd
}

// monthDay builds a date; without a year it takes the year that puts the date nearest to ref.
func (x *extractor) monthDay(ys, ms, ds string) (Value, bool) {
	m, err1 := strconv.Atoi(ms)
	d, err2 := strconv.Atoi(ds)
	if err1 != nil || err2 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
		return Value{}, false
	}
	loc := x.ref.Location()
	if ys != "" {
		y, err := strconv.Atoi(ys)
		if err != nil || y < 1900 || y > 2200 {
			return Value{}, false
		}
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc)
		if t.Day() != d {
			return Value{}, false // 2月30日
		}
		return x.date(t)
	}
	today := x.day()
	var best time.Time
	for _, y := range []int{today.Year() - 1, today.Year(), today.Year() + 1} {
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc)
		if t.Day() != d {
			continue
		}
		if best.IsZero() || absDur(t.Sub(today)) < absDur(best.Sub(today)) {
			best = t
		}
	}
	if best.IsZero() {
		return Value{}, false
	}
	return x.date(best)
}

// dayOfMonth builds a date from a day of the month: this/next/last month when said, else the next such day on or
// after ref's day.
func (x *extractor) dayOfMonth(rel, ds string) (Value, bool) {
	d, err := strconv.Atoi(ds)
	if err != nil || d < 1 || d > 31 {
		return Value{}, false
	}
	today := x.day()
	first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, today.Location())
	add := 0
	switch {
	case strings.HasPrefix(rel, "下"):
		add = 1
	case strings.HasPrefix(rel, "上"):
		add = -1
	case rel == "" && d < today.Day():
		add = 1
	}
	for range 3 { // the 31st skips months without one
		mo := first.AddDate(0, add, 0)
		t := time.Date(mo.Year(), mo.Month(), d, 0, 0, 0, 0, today.Location())
		if t.Day() == d {
			return x.date(t)
		}
		if rel != "" {
			return Value{}, false
		}
		add++
	}
	return Value{}, false
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// clock builds a time of day on ref's day. ampm is "am", "pm", "o'clock" or empty; English "in the afternoon" after
// the match (at byte end) also means pm.
func (x *extractor) clock(hs, ms, ampm string, end int) (Value, bool) {
	h, err := strconv.Atoi(hs)
	if err != nil {
		return Value{}, false
	}
	m := 0
	if ms != "" {
		if m, err = strconv.Atoi(ms); err != nil {
			return Value{}, false
		}
	}
	ampm = strings.ReplaceAll(ampm, ".", "")
	if ampm == "" {
		rest := x.c.s[end:]
		if len(rest) > 24 {
			rest = rest[:24]
		}
		if strings.Contains(rest, "afternoon") || strings.Contains(rest, "evening") || strings.Contains(rest, "tonight") ||
			strings.Contains(rest, "at night") {
			ampm = "pm"
		}
	}
	switch ampm {
	case "pm":
		if h < 1 || h > 12 {
			return Value{}, false
		}
		if h < 12 {
			h += 12
		}
	case "am":
		if h < 1 || h > 12 {
			return Value{}, false
		}
		if h == 12 {
			h = 0
		}
	}
	if h == 24 && m == 0 {
		h = 0
	}
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return Value{}, false
	}
	d := x.day()
	return Value{Kind: KindTime, Time: time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, x.ref.Location())}, true
}

func (x *extractor) number(kind SlotKind, s string, mult float64) (Value, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return Value{}, false
	}
	return Value{Kind: kind, Number: f * mult}, true
}

// yesNoMatcher answers KindYesNo with the confirm, deny and refuse intents.
var yesNoMatcher = func() *Matcher {
	var defs []IntentDef
	for _, d := range CommonIntents() {
		switch d.Name {
		case IntentConfirm, IntentDeny, IntentRefuse:
			defs = append(defs, d)
		}
	}
	m, err := NewMatcher(defs)
	if err != nil {
		panic(err) // built-in definitions; covered by tests
	}
	return m
}()

func yesNo(text string) (Value, bool) {
	ms := yesNoMatcher.Match(text)
	if len(ms) == 0 {
		return Value{}, false
	}
	return Value{Kind: KindYesNo, Text: ms[0].Span, Bool: ms[0].Intent == IntentConfirm}, true
}
