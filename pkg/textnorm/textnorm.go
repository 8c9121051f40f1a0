// Package textnorm writes text the way it is spoken (text normalization): amounts, dates, times, percentages,
// ordinals and numbers as words, codes digit by digit, in Chinese and English. Synthesizers read its output as a
// person would (tts.Normalize), and recognizers' grammars are built from the same spoken forms (asr/sphinx).
package textnorm

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/outcall/outcall/pkg/nlu/numeral"
)

// Normalize rewrites text so a synthesizer reads it as a person would: amounts, dates, times, percentages,
// ordinals and numbers become words; phone numbers, card tails, codes and other long digit strings are read digit
// by digit (in Chinese with 幺 for 1, as is usual on the phone). lang is "zh" (the default when empty) or "en";
// text in any other language is returned unchanged.
//
//	Normalize("您尾号1234的卡本期应还¥1,250.50，请于2026-11-23 18:00前还款", "zh")
//	  → "您尾号幺二三四的卡本期应还一千二百五十元五角，请于二〇二六年十一月二十三日十八点整前还款"
//	Normalize("Your balance of $1,250.50 is due on 2026-11-23.", "en")
//	  → "Your balance of one thousand two hundred fifty dollars and fifty cents is due on November twenty-third, twenty twenty-six."
func Normalize(text, lang string) string {
	var rules []rule
	switch lang {
	case "", "zh":
		rules = zhRules
	case "en":
		rules = enRules
	default:
		return text
	}
	for _, r := range rules {
		text = r.re.ReplaceAllStringFunc(text, func(m string) string {
			return r.fn(r.re.FindStringSubmatch(m))
		})
	}
	return text
}

// rule rewrites every match of re; fn gets the submatches. Rules run in order and leave no ASCII digits in what
// they write, so a later rule never rereads an earlier one's output.
type rule struct {
	re *regexp.Regexp
	fn func(m []string) string
}

// Shared patterns.
const (
	amountNum = `(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?`
	digitRun  = `(\d[\d\- ]*\d|\d)`
)

var zhRules = []rule{
	// Phone numbers and codes first: their digits must not be read as quantities.
	{regexp.MustCompile(`(尾号|末四位|后四位|卡号|账号|验证码|工号|编号|订单号|单号|电话|热线|手机|号码|拨打|致电|详询|咨询|客服)(是|为|：|:)?\s*` + digitRun),
		func(m []string) string { return m[1] + m[2] + DigitsZH(m[3]) }},
	{regexp.MustCompile(`\+?\b(?:86[\- ]?)?1[3-9]\d{9}\b|\b0\d{2,3}-\d{7,8}\b|\b[48]00-?\d{3}-?\d{4}\b|\b9[56]\d{3}\b`),
		func(m []string) string { return DigitsZH(strings.TrimPrefix(m[0], "+")) }},
	{regexp.MustCompile(`(?:¥|￥|RMB\s?|CNY\s?)` + amountNum + `(元)?`),
		func(m []string) string { return AmountZH(m[1], m[2], "元") }},
	{regexp.MustCompile(`(?:US)?\$\s?` + amountNum),
		func(m []string) string { return AmountZH(m[1], m[2], "美元") }},
	{regexp.MustCompile(amountNum + `\s?元`),
		func(m []string) string { return AmountZH(m[1], m[2], "元") }},
	{regexp.MustCompile(`\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b`),
		func(m []string) string { return dateZH(m[1], m[2], m[3]) }},
	{regexp.MustCompile(`(\d{4})年`),
		func(m []string) string { return YearZH(m[1]) + "年" }},
	{regexp.MustCompile(`\b(\d{1,2}):(\d{2})(?::(\d{2}))?\b`),
		func(m []string) string { return timeZH(m[1], m[2], m[3]) }},
	{regexp.MustCompile(`\b(\d{1,3}):(\d{1,3})\b`),
		func(m []string) string { return decimalZH(m[1], "") + "比" + decimalZH(m[2], "") }},
	{regexp.MustCompile(amountNum + `\s?%`),
		func(m []string) string { return "百分之" + decimalZH(m[1], m[2]) }},
	// Long runs of digits without separators are identifiers, not quantities.
	{regexp.MustCompile(`\d{7,}`),
		func(m []string) string { return DigitsZH(m[0]) }},
	{regexp.MustCompile(amountNum),
		func(m []string) string { return decimalZH(m[1], m[2]) }},
}

var enRules = []rule{
	{regexp.MustCompile(`(?i)(ending in|ends in|last four digits|last 4 digits|card number|account number|code|phone|call|dial|number)(\s+is|:)?\s*` + digitRun),
		func(m []string) string { return m[1] + m[2] + " " + DigitsEN(m[3]) }},
	{regexp.MustCompile(`(?:\+?\b1[\- ]?)?\(?\b\d{3}\)?[\- .]\d{3}[\- .]\d{4}\b|\+?\b(?:86[\- ]?)?1[3-9]\d{9}\b`),
		func(m []string) string { return DigitsEN(strings.TrimPrefix(m[0], "+")) }},
	{regexp.MustCompile(`(?:US)?\$\s?` + amountNum),
		func(m []string) string { return AmountEN(m[1], m[2]) }},
	{regexp.MustCompile(`(?:¥|￥|RMB\s?|CNY\s?)` + amountNum),
		func(m []string) string { return decimalEN(m[1], m[2]) + " yuan" }},
	{regexp.MustCompile(`\b(\d{4})-(\d{1,2})-(\d{1,2})\b`),
		func(m []string) string { return dateEN(m[1], m[2], m[3]) }},
	{regexp.MustCompile(`\b(\d{1,2}):(\d{2})(?::\d{2})?(?:\s*([AaPp])\.?[Mm]\.?)?`),
		func(m []string) string { return timeEN(m[1], m[2], m[3]) }},
	{regexp.MustCompile(amountNum + `\s?%`),
		func(m []string) string { return decimalEN(m[1], m[2]) + " percent" }},
	{regexp.MustCompile(`\b(\d+)(?:st|nd|rd|th)\b`),
		func(m []string) string {
			if n, ok := parseInt(m[1]); ok {
				return OrdinalEN(n)
			}
			return DigitsEN(m[1])
		}},
	{regexp.MustCompile(`\d{7,}`),
		func(m []string) string { return DigitsEN(m[0]) }},
	{regexp.MustCompile(amountNum),
		func(m []string) string { return decimalEN(m[1], m[2]) }},
}

// The number vocabulary is pkg/nlu/numeral's, the one pkg/nlu reads callers with.
var (
	zhDigits     = numeral.ZhDigits[:]
	zhCodeDigits = numeral.ZhCodeDigits[:]
	zhYearDigits = numeral.ZhYearDigits[:]
)

// DigitsZH reads a digit string one digit at a time as on the phone (1 is 幺); a run of separators (space, '-',
// '.', parentheses) becomes one space, a pause. An 11-digit mobile number without separators is grouped 3-4-4.
func DigitsZH(s string) string { return digits(s, zhCodeDigits, "", " ") }

// DigitsEN reads a digit string one digit at a time ("one three eight"); separators become ", " (a pause).
func DigitsEN(s string) string {
	return digits(s, numeral.EnOnes[:10], " ", ", ")
}

func digits(s string, names []string, sep, pause string) string {
	var only []byte
	hasSep := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			only = append(only, c)
		} else {
			hasSep = true
		}
	}
	if !hasSep && len(only) == 11 && only[0] == '1' { // mobile: 138 0013 8000
		s = string(only[:3]) + " " + string(only[3:7]) + " " + string(only[7:])
	}
	var b strings.Builder
	pending, started := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			pending = started
			continue
		}
		if pending {
			b.WriteString(pause)
		} else if started {
			b.WriteString(sep)
		}
		b.WriteString(names[c-'0'])
		pending, started = false, true
	}
	return b.String()
}

// NumberZH reads n as a Chinese cardinal: 1250 → 一千二百五十, 10 → 十, 100005 → 十万零五. Numbers beyond the
// range of 万亿 (|n| ≥ 10^16) are read digit by digit.
func NumberZH(n int64) string {
	if n < 0 {
		return "负" + NumberZH(-n)
	}
	if n == 0 {
		return "零"
	}
	if n >= 1e16 {
		return digits(strconv.FormatInt(n, 10), zhDigits, "", "")
	}
	units := numeral.ZhGroups[:]
	var groups []int
	for v := n; v > 0; v /= 10000 {
		groups = append(groups, int(v%10000))
	}
	var b strings.Builder
	gap := false // a zero group or leading zeros since the last digit written
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		if g == 0 {
			gap = b.Len() > 0
			continue
		}
		if b.Len() > 0 && (gap || g < 1000) {
			b.WriteString("零")
		}
		b.WriteString(groupZH(g))
		b.WriteString(units[i])
		gap = false
	}
	out := b.String()
	if strings.HasPrefix(out, "一十") { // 十二, not 一十二
		out = strings.TrimPrefix(out, "一")
	}
	return out
}

// groupZH reads 1..9999 without a leading 零.
func groupZH(g int) string {
	places := numeral.ZhPlaces[:]
	ds := [4]int{g / 1000, g / 100 % 10, g / 10 % 10, g % 10}
	var b strings.Builder
	zero := false
	for i, d := range ds {
		switch {
		case d == 0:
			zero = b.Len() > 0
		default:
			if zero {
				b.WriteString("零")
				zero = false
			}
			b.WriteString(zhDigits[d])
			b.WriteString(places[i])
		}
	}
	return b.String()
}

// AmountZH reads a money amount given as its integer digits (commas allowed) and fraction digits in a currency
// unit: ("1,250", "50", "元") → 一千二百五十元五角; ("1250", "05", "元") → 一千二百五十元零五分; for "元" the
// fraction is read as 角 and 分, for other units (美元) as 美分 when it has two digits.
func AmountZH(intPart, frac, unit string) string {
	intPart = strings.ReplaceAll(intPart, ",", "")
	n, ok := parseInt(intPart)
	if !ok {
		return DigitsZH(intPart) + unit
	}
	if len(frac) > 2 || (unit != "元" && len(frac) == 1) {
		return decimalZH(intPart, frac) + unit
	}
	frac = (frac + "00")[:2]
	jiao, fen := int(frac[0]-'0'), int(frac[1]-'0')
	if unit != "元" {
		cents := 10*jiao + fen
		switch {
		case cents == 0:
			return NumberZH(n) + unit
		case n == 0:
			return NumberZH(int64(cents)) + "美分"
		}
		return NumberZH(n) + unit + NumberZH(int64(cents)) + "美分"
	}
	var b strings.Builder
	if n > 0 || (jiao == 0 && fen == 0) {
		b.WriteString(NumberZH(n) + "元")
	}
	if jiao > 0 {
		b.WriteString(zhDigits[jiao] + "角")
	}
	if fen > 0 {
		if jiao == 0 && n > 0 {
			b.WriteString("零")
		}
		b.WriteString(zhDigits[fen] + "分")
	}
	return b.String()
}

// YearZH reads a year digit by digit: 2026 → 二〇二六.
func YearZH(y string) string { return digits(y, zhYearDigits, "", "") }

// DateZH reads a date: (2026, 11, 23) → 二〇二六年十一月二十三日.
func DateZH(year, month, day int) string {
	return YearZH(strconv.Itoa(year)) + "年" + NumberZH(int64(month)) + "月" + NumberZH(int64(day)) + "日"
}

func dateZH(y, m, d string) string {
	mm, dd := atoi(m), atoi(d)
	if mm < 1 || mm > 12 || dd < 1 || dd > 31 {
		return DigitsZH(y) + " " + DigitsZH(m) + " " + DigitsZH(d)
	}
	return DateZH(atoi(y), mm, dd)
}

// TimeZH reads a time of day: (18, 0, -1) → 十八点整, (9, 5, -1) → 九点零五分, (14, 30, 15) → 十四点三十分十五秒;
// sec < 0 means no seconds.
func TimeZH(hour, minute, sec int) string {
	s := NumberZH(int64(hour)) + "点"
	switch {
	case minute == 0 && sec <= 0:
		return s + "整"
	case minute < 10:
		s += "零" + NumberZH(int64(minute)) + "分"
	default:
		s += NumberZH(int64(minute)) + "分"
	}
	if sec > 0 {
		if sec < 10 {
			s += "零"
		}
		s += NumberZH(int64(sec)) + "秒"
	}
	return s
}

func timeZH(h, m, s string) string {
	hh, mm, ss := atoi(h), atoi(m), -1
	if s != "" {
		ss = atoi(s)
	}
	if hh > 24 || mm > 59 || ss > 59 {
		return decimalZH(h, "") + "比" + decimalZH(m, "") // a ratio such as 3:2
	}
	return TimeZH(hh, mm, ss)
}

// decimalZH reads a number with optional fraction digits: ("3", "14") → 三点一四.
func decimalZH(intPart, frac string) string {
	intPart = strings.ReplaceAll(intPart, ",", "")
	n, ok := parseInt(intPart)
	s := ""
	if ok {
		s = NumberZH(n)
	} else {
		s = DigitsZH(intPart)
	}
	if frac != "" {
		s += "点" + digits(frac, zhDigits, "", "")
	}
	return s
}

var (
	enOnes   = numeral.EnOnes[:]
	enTens   = numeral.EnTens[:]
	enScales = []string{"", " thousand", " million", " billion", " trillion", " quadrillion", " quintillion"}
	enMonths = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September",
		"October", "November", "December"}
)

// NumberEN reads n as an English cardinal: 1250 → "one thousand two hundred fifty", 21 → "twenty-one".
func NumberEN(n int64) string {
	if n < 0 {
		if n == -n { // math.MinInt64
			return "minus " + DigitsEN(strconv.FormatInt(n, 10)[1:])
		}
		return "minus " + NumberEN(-n)
	}
	if n == 0 {
		return "zero"
	}
	var parts []string
	for i := 0; n > 0; i++ {
		if g := int(n % 1000); g > 0 {
			parts = append([]string{hundredsEN(g) + enScales[i]}, parts...)
		}
		n /= 1000
	}
	return strings.Join(parts, " ")
}

func hundredsEN(g int) string {
	var s []string
	if g >= 100 {
		s = append(s, enOnes[g/100]+" hundred")
		g %= 100
	}
	switch {
	case g == 0:
	case g < 20:
		s = append(s, enOnes[g])
	case g%10 == 0:
		s = append(s, enTens[g/10])
	default:
		s = append(s, enTens[g/10]+"-"+enOnes[g%10])
	}
	return strings.Join(s, " ")
}

// OrdinalEN reads n as an English ordinal: 1 → "first", 23 → "twenty-third", 100 → "one hundredth".
func OrdinalEN(n int64) string {
	s := NumberEN(n)
	irregular := map[string]string{"one": "first", "two": "second", "three": "third", "five": "fifth",
		"eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
	cut := strings.LastIndexAny(s, " -") + 1
	last := s[cut:]
	switch {
	case irregular[last] != "":
		last = irregular[last]
	case strings.HasSuffix(last, "y"):
		last = strings.TrimSuffix(last, "y") + "ieth"
	default:
		last += "th"
	}
	return s[:cut] + last
}

// AmountEN reads a dollar amount given as integer digits (commas allowed) and fraction digits:
// ("1,250", "50") → "one thousand two hundred fifty dollars and fifty cents"; ("1", "") → "one dollar".
func AmountEN(intPart, frac string) string {
	intPart = strings.ReplaceAll(intPart, ",", "")
	n, ok := parseInt(intPart)
	if !ok || len(frac) > 2 {
		return decimalEN(intPart, frac) + " dollars"
	}
	cents := 0
	if frac != "" {
		cents = atoi((frac + "0")[:2])
	}
	plural := func(v int64, one, many string) string {
		if v == 1 {
			return NumberEN(v) + " " + one
		}
		return NumberEN(v) + " " + many
	}
	switch {
	case cents == 0:
		return plural(n, "dollar", "dollars")
	case n == 0:
		return plural(int64(cents), "cent", "cents")
	}
	return plural(n, "dollar", "dollars") + " and " + plural(int64(cents), "cent", "cents")
}

// YearEN reads a year as people say it: 2026 → "twenty twenty-six", 2000 → "two thousand", 2005 → "two thousand
// five", 1900 → "nineteen hundred", 1999 → "nineteen ninety-nine".
func YearEN(y int) string {
	switch {
	case y < 1000 || y > 9999:
		return NumberEN(int64(y))
	case y%1000 < 10 && y/1000 == 2:
		return NumberEN(int64(y))
	case y%100 == 0:
		return hundredsEN(y/100) + " hundred"
	case y%100 < 10:
		return hundredsEN(y/100) + " oh " + enOnes[y%100]
	}
	return hundredsEN(y/100) + " " + hundredsEN(y%100)
}

// DateEN reads a date: (2026, 11, 23) → "November twenty-third, twenty twenty-six".
func DateEN(year, month, day int) string {
	return enMonths[month-1] + " " + OrdinalEN(int64(day)) + ", " + YearEN(year)
}

func dateEN(y, m, d string) string {
	mm, dd := atoi(m), atoi(d)
	if mm < 1 || mm > 12 || dd < 1 || dd > 31 {
		return DigitsEN(y) + ", " + DigitsEN(m) + ", " + DigitsEN(d)
	}
	return DateEN(atoi(y), mm, dd)
}

// TimeEN reads a time of day on the 12-hour clock: (14, 30) → "two thirty PM", (9, 5) → "nine oh five AM",
// (12, 0) → "twelve PM".
func TimeEN(hour, minute int) string {
	suffix := "AM"
	if hour >= 12 && hour < 24 {
		suffix = "PM"
	}
	h := hour % 12
	if h == 0 {
		h = 12
	}
	return clockEN(h, minute) + " " + suffix
}

func clockEN(h, m int) string {
	s := NumberEN(int64(h))
	switch {
	case m == 0:
	case m < 10:
		s += " oh " + enOnes[m]
	default:
		s += " " + hundredsEN(m)
	}
	return s
}

func timeEN(h, m, ampm string) string {
	hh, mm := atoi(h), atoi(m)
	if hh > 24 || mm > 59 {
		return NumberEN(int64(hh)) + " to " + NumberEN(int64(mm))
	}
	switch {
	case ampm == "":
		return TimeEN(hh, mm)
	case hh < 1 || hh > 12:
		return TimeEN(hh, mm) // 14:00 pm: trust the 24-hour clock
	case ampm == "p" || ampm == "P":
		return clockEN(hh, mm) + " PM"
	}
	return clockEN(hh, mm) + " AM"
}

// decimalEN reads a number with optional fraction digits: ("3", "14") → "three point one four".
func decimalEN(intPart, frac string) string {
	intPart = strings.ReplaceAll(intPart, ",", "")
	n, ok := parseInt(intPart)
	s := ""
	if ok {
		s = NumberEN(n)
	} else {
		s = DigitsEN(intPart)
	}
	if frac != "" {
		s += " point " + DigitsEN(frac)
	}
	return s
}

// parseInt parses a run of ASCII digits that fits an int64.
func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// atoi parses a short run of ASCII digits (the regular expressions guarantee the form); overflow gives -1.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
