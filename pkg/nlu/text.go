package nlu

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/outcall/outcall/pkg/nlu/numeral"
)

// normRune folds a rune for matching: full-width ASCII to half-width, ideographic space to space, letters to lower
// case, and a few Chinese punctuation marks to their ASCII forms. It maps one rune to one rune so that rune offsets in
// the folded text are rune offsets in the original.
func normRune(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		r -= 0xFEE0
	case r == 0x3000:
		r = ' '
	case r == '￥':
		r = '¥'
	case r == '。':
		r = '.'
	case r == '、':
		r = ','
	case r == '\u2019' || r == '\u2018':
		r = '\''
	}
	if r >= 0x4E00 {
		if s, ok := simplified[r]; ok {
			r = s
		}
	}
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

// simplified folds the traditional characters most common in callers' answers to their simplified forms.
var simplified = map[rune]rune{'別': '别', '說': '说', '還': '还', '沒': '没', '話': '话', '電': '电', '錯': '错', '轉': '转',
	'們': '们', '這': '这', '個': '个', '點': '点', '號': '号', '萬': '万', '兩': '两', '塊': '块', '錢': '钱', '週': '周',
	'禮': '礼', '對': '对', '麼': '么', '聽': '听', '見': '见', '誰': '谁', '謝': '谢', '請': '请', '問': '问', '嗎': '吗',
	'員': '员', '務': '务', '幾': '几', '後': '后', '時': '时', '間': '间', '開': '开', '會': '会', '車': '车', '騙': '骗',
	'訴': '诉', '煩': '烦', '氣': '气', '機': '机', '銀': '银', '額': '额',
	'帳': '账', '賬': '账', '單': '单', '貸': '贷', '認': '认', '識': '识', '經': '经', '給': '给', '將': '将',
	'邊': '边', '過': '过', '讓': '让', '際': '际', '現': '现', '裡': '里', '裏': '里', '為': '为', '來': '来',
	'樣': '样', '東': '东', '幣': '币', '買': '买', '賣': '卖', '擾': '扰', '報': '报', '聯': '联', '係': '系', '繫': '系',
	'碼': '码', '陽': '阳', '陰': '阴', '歲': '岁', '億': '亿', '圓': '圆', '態': '态', '謊': '谎', '夠': '够'}

// normalize folds text with normRune.
func normalize(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		b.WriteRune(normRune(r))
	}
	return b.String()
}

// isCJK reports whether r is a Han character or another CJK ideograph/kana/hangul that is spoken as one unit.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) ||
		unicode.Is(unicode.Hangul, r)
}

// isWordRune reports whether r belongs to a space-separated (non-CJK) word.
func isWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'') && !isCJK(r)
}

// SpokenLength measures how much was said: every CJK character counts as one unit and every run of other letters
// or digits (a whitespace word such as "hello" or "42") counts as one unit. Punctuation counts nothing. Use it for
// barge-in thresholds so that "不用了" (3) and "no thanks" (2) compare fairly.
func SpokenLength(text string) int {
	n := 0
	inWord := false
	for _, r := range text {
		switch {
		case isCJK(r):
			n++
			inWord = false
		case isWordRune(r):
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

// backchannels are the short acknowledgements that must not interrupt the bot.
var backchannels = map[string]bool{
	"嗯": true, "嗯嗯": true, "嗯哼": true, "哦": true, "噢": true, "喔": true, "啊": true, "对": true, "对对": true,
	"对对对": true, "对的": true, "好": true, "好的": true, "好好": true, "好嘞": true, "行": true, "是": true, "是的": true,
	"是是": true, "喂": true, "喂喂": true, "嗯好": true, "嗯对": true, "嗯是的": true, "哦哦": true, "明白": true, "知道了": true,
	"ok": true, "okay": true, "uh-huh": true, "uh huh": true, "uhhuh": true, "mm": true, "mhm": true, "mm-hmm": true,
	"hmm": true, "yeah": true, "yep": true, "yes": true, "right": true, "sure": true, "hello": true, "i see": true,
	"got it": true, "uh": true, "um": true, "ah": true, "oh": true,
}

// IsBackchannel reports whether text is only a listener's acknowledgement (嗯, 对, 好的, 喂, 是的, "uh-huh", "ok",
// "yeah", repeated or punctuated) that should not interrupt the bot nor count as an answer to barge in with.
func IsBackchannel(text string) bool {
	t := strings.TrimSpace(strings.Map(func(r rune) rune {
		r = normRune(r)
		if unicode.IsPunct(r) && r != '-' || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, text))
	if t == "" {
		return false
	}
	t = strings.Join(strings.Fields(t), " ")
	if backchannels[t] || onlyFillers(t) {
		return true
	}
	// "嗯 嗯", "ok ok", "对,对": every piece a backchannel.
	parts := strings.Fields(t)
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if !backchannels[p] {
			return false
		}
	}
	return true
}

// onlyFillers reports text made only of hesitation sounds (嗯嗯嗯, 呃, 啊啊), however many.
func onlyFillers(t string) bool {
	if t == "" {
		return false
	}
	for _, r := range t {
		switch r {
		case '嗯', '哦', '噢', '喔', '啊', '呃', '额', '唔', ' ':
		default:
			return false
		}
	}
	return true
}

// spokenDigitZH and spokenDigitEN map a spoken or written single digit (Arabic, Chinese with its phone spellings,
// an English word, "o" and "oh" for zero) to its ASCII digit; both are built from package numeral's vocabulary.
var spokenDigitZH, spokenDigitEN = func() (map[rune]byte, map[string]byte) {
	zh := map[rune]byte{}
	for d := '0'; d <= '9'; d++ {
		zh[d] = byte(d)
	}
	for _, m := range []map[rune]int{numeral.ZhDigitValue, numeral.ZhPhoneDigitValue} {
		for r, v := range m {
			zh[r] = byte('0' + v)
		}
	}
	en := map[string]byte{"o": '0'}
	for w, v := range numeral.EnValue {
		if v < 10 {
			en[w] = byte('0' + v)
		}
	}
	return zh, en
}()

// IsDigitString reports whether text is a string of digits being read aloud one by one ("1380", "幺三八零",
// "六 七 八 九", "four five six", "尾号六七八九"), or ends with one of at least three digits ("我的卡号是六二二二") —
// a sign the callee has not finished and the turn should stay open. Numbers with units (一千二, 二十五, "twenty")
// are not digit strings. A text that is only digits needs at least two.
func IsDigitString(text string) bool {
	t := normalize(text)
	if _, ok := readDigits(t, 2); ok {
		return true
	}
	return trailingDigits(t) >= 3
}

// trailingDigits counts the digits read one by one at the end of normalized text ("我的卡号是六二二二" → 4), zero
// when the run is part of a number with units (二十五, 三百四十五).
func trailingDigits(t string) int {
	t = strings.TrimRight(t, " ,.!?;:…-")
	n := 0
	for t != "" {
		r, size := utf8.DecodeLastRuneInString(t)
		switch {
		case r == ' ' || r == '-' || r == ',':
			t = t[:len(t)-size]
			continue
		case r < utf8.RuneSelf && unicode.IsLetter(r):
			j := len(t)
			for j > 0 && t[j-1] < utf8.RuneSelf && unicode.IsLetter(rune(t[j-1])) {
				j--
			}
			if _, ok := spokenDigitEN[t[j:]]; !ok || t[j:] == "o" {
				return n
			}
			n++
			t = t[:j]
			continue
		}
		if _, ok := spokenDigitZH[r]; ok && r != '两' {
			n++
			t = t[:len(t)-size]
			continue
		}
		if isZhNum(r) {
			return 0 // 二十五: a number with units, not a digit string
		}
		return n
	}
	return n
}

// digitLeadIns are words a callee says before reading digits; they may precede the digits without breaking the run.
var digitLeadIns = []string{"尾号是", "尾号", "后四位是", "后四位", "后六位是", "后六位", "号码是", "卡号是", "是", "my number is",
	"the number is", "it's", "it is", "number"}

// readDigits returns the digits of a normalized text that is entirely a digit reading (after an optional lead-in),
// with at least min digits.
func readDigits(t string, min int) (string, bool) {
	t = strings.TrimSpace(strings.Trim(t, " ,.!?;:，。！？；：…-"))
	for _, l := range digitLeadIns {
		if strings.HasPrefix(t, l) {
			t = strings.TrimSpace(t[len(l):])
			break
		}
	}
	var digits []byte
	i := 0
	for i < len(t) {
		r, size := utf8.DecodeRuneInString(t[i:])
		switch {
		case r == ' ' || r == '-' || r == ',' || r == '.':
			i += size
		case r < utf8.RuneSelf && unicode.IsLetter(r):
			j := i
			for j < len(t) && t[j] < utf8.RuneSelf && unicode.IsLetter(rune(t[j])) {
				j++
			}
			w := t[i:j]
			if w == "double" || w == "triple" {
				digits = append(digits, w[0]-'a'+'A') // 'D' or 'T', resolved below
				i = j
				continue
			}
			d, ok := spokenDigitEN[w]
			if !ok {
				return "", false
			}
			digits = append(digits, d)
			i = j
		default:
			d, ok := spokenDigitZH[r]
			if !ok {
				return "", false
			}
			digits = append(digits, d)
			i += size
		}
	}
	// Resolve "double seven" / "triple five".
	out := digits[:0:0]
	for k := 0; k < len(digits); k++ {
		c := digits[k]
		if c == 'D' || c == 'T' {
			if k+1 >= len(digits) || digits[k+1] < '0' || digits[k+1] > '9' {
				return "", false
			}
			reps := 2
			if c == 'T' {
				reps = 3
			}
			for range reps - 1 {
				out = append(out, digits[k+1])
			}
			continue
		}
		out = append(out, c)
	}
	if len(out) < min {
		return "", false
	}
	return string(out), true
}
