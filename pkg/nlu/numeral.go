package nlu

import (
	"strconv"
	"strings"

	"github.com/outcall/outcall/pkg/nlu/numeral"
)

// converted is a normalized utterance with every spoken number rewritten as Arabic digits ("一千二百五十块五毛" →
// "1250块5毛", "twenty five dollars" → "25 dollars"), plus the map back to the original text.
type converted struct {
	s      string
	segs   []convSeg
	digits [][2]int // byte ranges of s that were read digit by digit (幺三八, "four five six")
}

// convSeg maps s[cs:ce] to the original runes [os, oe).
type convSeg struct{ cs, ce, os, oe int }

// origRange maps a byte range of c.s to a rune range of the original text.
func (c *converted) origRange(a, b int) (int, int) {
	os, oe := 0, 0
	for _, sg := range c.segs {
		if sg.cs <= a && a < sg.ce {
			os = sg.os
		}
		if sg.cs < b && b <= sg.ce {
			oe = sg.oe
			break
		}
	}
	return os, oe
}

func (c *converted) isDigitReading(a, b int) bool {
	for _, d := range c.digits {
		if d[0] <= a && b <= d[1] {
			return true
		}
	}
	return false
}

// The number vocabulary is pkg/nlu/numeral's, shared with tts.
var (
	zhDigitVal = numeral.ZhDigitValue
	zhUnitVal  = numeral.ZhUnitValue
)

func isZhNum(r rune) bool {
	_, d := zhDigitVal[r]
	_, u := zhUnitVal[r]
	return d || u
}

func isZhNumStart(r rune) bool {
	_, d := zhDigitVal[r]
	return d || r == '十'
}

// unitAfterOne lists what may follow a lone 一 for it to be the number one rather than part of a word (一下, 一起).
var unitAfterOne = map[rune]bool{'元': true, '块': true, '圆': true, '毛': true, '角': true, '分': true, '万': true, '月': true,
	'日': true, '号': true, '点': true, '个': true, '次': true, '期': true, '年': true, '天': true, '周': true, '岁': true,
	'秒': true, '刻': true, '位': true, '张': true, '件': true, '台': true, '笔': true, '小': true, '百': true, '千': true,
	'成': true, '%': true, '遍': true, '星': true, '礼': true}

var prevBeforeOne = map[rune]bool{'期': true, '周': true, '拜': true, '第': true, '之': true, '是': true, '到': true}

var enNumVal = numeral.EnValue

// timePrefixes before "N点M" make it a clock time rather than a decimal.
var timePrefixes = []string{"凌晨", "早上", "早晨", "上午", "中午", "下午", "傍晚", "晚上", "今晚", "夜里", "半夜", "明早", "明晚"}

// convert rewrites the spoken numbers of normalized text t as Arabic numerals.
func convert(t string) converted {
	rs := []rune(t)
	var b strings.Builder
	b.Grow(len(t) + 8)
	c := converted{segs: make([]convSeg, 0, len(rs))}
	emit := func(s string, os, oe int) {
		cs := b.Len()
		b.WriteString(s)
		c.segs = append(c.segs, convSeg{cs, b.Len(), os, oe})
	}
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case isZhNumStart(r):
			j := i
			for j < len(rs) && isZhNum(rs[j]) {
				j++
			}
			run := rs[i:j]
			var next, prev rune
			if j < len(rs) {
				next = rs[j]
			}
			if i > 0 {
				prev = rs[i-1]
			}
			if len(run) == 1 && r == '一' && !unitAfterOne[next] && !prevBeforeOne[prev] ||
				len(run) == 1 && r == '十' && next == '分' && (j+1 >= len(rs) || rs[j+1] != '钟') && prev != '点' {
				emit(string(r), i, i+1)
				i++
				continue
			}
			if len(run) == 1 && r == '一' && next == '点' && !hasTimePrefix(rs, i) {
				var after rune
				if j+1 < len(rs) {
					after = rs[j+1]
				}
				if !isZhNum(after) && !(after >= '0' && after <= '9') && after != '半' && after != '钟' && after != '整' {
					emit(string(r), i, i+1) // 便宜一点: "a little"
					i++
					continue
				}
			}
			// "三点五" is 3.5; "下午三点五十", "三点一刻", "三点十五" are clock times.
			if next == '点' && j+1 < len(rs) && isZhNumStart(rs[j+1]) {
				k := j + 1
				for k < len(rs) && isZhNum(rs[k]) {
					k++
				}
				frac := rs[j+1 : k]
				mult := 1.0
				if u := frac[len(frac)-1]; u == '万' || u == '亿' {
					mult = zhUnitVal[u]
					frac = frac[:len(frac)-1]
				}
				var after rune
				if k < len(rs) {
					after = rs[k]
				}
				if !hasTimePrefix(rs, i) && !strings.ContainsAny(string(frac), "十百千万亿") && after != '分' && after != '刻' &&
					len(frac) > 0 {
					iv, _, _ := parseZhNumber(run)
					fs := make([]byte, 0, len(frac))
					for _, fr := range frac {
						fs = append(fs, byte('0'+zhDigitVal[fr]))
					}
					f, err := strconv.ParseFloat(strconv.FormatFloat(iv, 'f', -1, 64)+"."+string(fs), 64)
					if err == nil {
						emit(formatNum(f*mult), i, k)
						i = k
						continue
					}
				}
			}
			if len(run) == 2 && approxPair(run) {
				// 一两天, 三四个: a rough count, read as its lower bound.
				emit(strconv.Itoa(zhDigitVal[run[0]]), i, j)
				i = j
				continue
			}
			v, digits, isDigits := parseZhNumber(run)
			if isDigits {
				cs := b.Len()
				emit(digits, i, j)
				c.digits = append(c.digits, [2]int{cs, b.Len()})
			} else {
				emit(formatNum(v), i, j)
			}
			i = j
		case r >= '0' && r <= '9':
			j := i
			var num []rune
			for j < len(rs) {
				switch {
				case rs[j] >= '0' && rs[j] <= '9':
					num = append(num, rs[j])
					j++
					continue
				case rs[j] == '.' && j+1 < len(rs) && rs[j+1] >= '0' && rs[j+1] <= '9' && !strings.ContainsRune(string(num), '.'):
					num = append(num, '.')
					j++
					continue
				case rs[j] == ',' && thousandsGroup(rs, j):
					j++
					continue
				}
				break
			}
			s := string(num)
			if j < len(rs) && (rs[j] == '万' || rs[j] == '亿') && (j+1 >= len(rs) || !isZhNum(rs[j+1])) {
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					emit(formatNum(f*zhUnitVal[rs[j]]), i, j+1)
					i = j + 1
					continue
				}
			}
			emit(s, i, j)
			i = j
		case r >= 'a' && r <= 'z':
			j := i
			for j < len(rs) && rs[j] >= 'a' && rs[j] <= 'z' {
				j++
			}
			if _, ok := enNumVal[string(rs[i:j])]; ok || string(rs[i:j]) == "double" || string(rs[i:j]) == "triple" {
				if end, s, isDigits, ok := convertEnglish(rs, i); ok {
					cs := b.Len()
					emit(s, i, end)
					if isDigits {
						c.digits = append(c.digits, [2]int{cs, b.Len()})
					}
					i = end
					continue
				}
			}
			emit(string(rs[i:j]), i, j)
			i = j
		default:
			emit(string(r), i, i+1)
			i++
		}
	}
	c.s = b.String()
	return c
}

// approxPair reports two neighbouring digits said as a range: 一两, 两三, 三四 … 八九.
func approxPair(run []rune) bool {
	a, b := zhDigitVal[run[0]], zhDigitVal[run[1]]
	return run[0] != '幺' && run[0] != '零' && run[0] != '〇' && a >= 1 && b == a+1
}

func thousandsGroup(rs []rune, j int) bool {
	for k := j + 1; k <= j+3; k++ {
		if k >= len(rs) || rs[k] < '0' || rs[k] > '9' {
			return false
		}
	}
	return j+4 >= len(rs) || rs[j+4] < '0' || rs[j+4] > '9'
}

func hasTimePrefix(rs []rune, i int) bool {
	for _, p := range timePrefixes {
		pr := []rune(p)
		if i >= len(pr) && string(rs[i-len(pr):i]) == p {
			return true
		}
	}
	return false
}

// parseZhNumber reads a run of Chinese numerals. A run without units (幺三八, 二零二六) is a digit reading and is
// returned as digits too. Abbreviated forms scale the last digit by the unit before it: 一千二 = 1200, 两万五 = 25000.
func parseZhNumber(run []rune) (v float64, digits string, isDigits bool) {
	hasUnit := false
	for _, r := range run {
		if _, ok := zhUnitVal[r]; ok {
			hasUnit = true
			break
		}
	}
	if !hasUnit {
		ds := make([]byte, len(run))
		for k, r := range run {
			ds[k] = byte('0' + zhDigitVal[r])
		}
		f, _ := strconv.ParseFloat(string(ds), 64)
		return f, string(ds), len(run) >= 2
	}
	var total, section, num float64
	lastUnit := 1.0
	sawDigit := false
	for _, r := range run {
		if d, ok := zhDigitVal[r]; ok {
			num = float64(d)
			sawDigit = true
			if r == '零' || r == '〇' {
				lastUnit = 1
			}
			continue
		}
		u := zhUnitVal[r]
		switch {
		case u == 1e8:
			total = (total + section + num) * u
			section = 0
		case u == 1e4:
			total += (section + num) * u
			section = 0
		default:
			if num == 0 && !sawDigit {
				num = 1 // 十五 = 15
			}
			section += num * u
		}
		num, sawDigit, lastUnit = 0, false, u
	}
	if sawDigit && len(run) >= 2 && lastUnit >= 100 {
		if _, ok := zhUnitVal[run[len(run)-2]]; ok {
			num *= lastUnit / 10
		}
	}
	return total + section + num, "", false
}

// convertEnglish reads number words starting at rs[i]: "twenty five" → "25", "four five six" → "456" (a digit
// reading), "double seven" → "77". It returns the rune index after the run.
func convertEnglish(rs []rune, i int) (end int, out string, isDigits bool, ok bool) {
	var words []string
	var ends []int
	k := i
	for k < len(rs) {
		j := k
		for j < len(rs) && rs[j] >= 'a' && rs[j] <= 'z' {
			j++
		}
		w := string(rs[k:j])
		_, num := enNumVal[w]
		if !num && w != "double" && w != "triple" && !(w == "and" && len(words) > 0) || j == k {
			break
		}
		words = append(words, w)
		ends = append(ends, j)
		if j < len(rs) && (rs[j] == ' ' || rs[j] == '-') && j+1 < len(rs) && rs[j+1] >= 'a' && rs[j+1] <= 'z' {
			k = j + 1
			continue
		}
		break
	}
	for len(words) > 0 && (words[len(words)-1] == "and" || words[len(words)-1] == "double" || words[len(words)-1] == "triple") {
		words, ends = words[:len(words)-1], ends[:len(ends)-1]
	}
	if len(words) == 0 || len(words) == 1 && (words[0] == "oh") {
		return 0, "", false, false
	}
	allDigits := true
	for _, w := range words {
		v, isNum := enNumVal[w]
		if isNum && v > 9 || w == "and" {
			allDigits = false
		}
	}
	if allDigits && len(words) >= 2 {
		var ds []byte
		for k := 0; k < len(words); k++ {
			reps := 1
			switch words[k] {
			case "double":
				reps, k = 2, k+1
			case "triple":
				reps, k = 3, k+1
			}
			if k >= len(words) {
				return 0, "", false, false
			}
			for range reps {
				ds = append(ds, byte('0'+enNumVal[words[k]]))
			}
		}
		return ends[len(ends)-1], string(ds), true, true
	}
	var total, cur float64
	for _, w := range words {
		v, isNum := enNumVal[w]
		if !isNum {
			if w == "double" || w == "triple" {
				return 0, "", false, false
			}
			continue
		}
		switch {
		case v == 100:
			if cur == 0 {
				cur = 1
			}
			cur *= 100
		case v >= 1000:
			if cur == 0 {
				cur = 1
			}
			total += cur * float64(v)
			cur = 0
		default:
			cur += float64(v)
		}
	}
	return ends[len(ends)-1], formatNum(total + cur), false, true
}

func formatNum(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}
