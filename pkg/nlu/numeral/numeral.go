// Package numeral is the one number vocabulary of outcall: the Chinese and English words for digits and units that
// pkg/nlu reads in what callees say and tts writes for synthesizers to speak. It imports nothing of the project, so
// both can depend on it.
package numeral

// Chinese digit words, by value.
var (
	// ZhDigits are the digits as counted: 零 一 二 … 九.
	ZhDigits = [10]string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}
	// ZhCodeDigits are the digits as read one by one on the phone, 1 as 幺: 幺三八.
	ZhCodeDigits = [10]string{"零", "幺", "二", "三", "四", "五", "六", "七", "八", "九"}
	// ZhYearDigits are the digits of a year: 二〇二六.
	ZhYearDigits = [10]string{"〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"}
)

// ZhDigitValue is the value of every Chinese digit character a caller may say, including the variants: 两 (2), 幺
// (1 in a digit string) and 〇 (0).
var ZhDigitValue = map[rune]int{'零': 0, '〇': 0, '一': 1, '幺': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6,
	'七': 7, '八': 8, '九': 9}

// ZhPhoneDigitValue holds the spellings of single digits used only when reading a number out digit by digit on the
// phone or radio: 洞 (0), 拐 (7), 勾 (9).
var ZhPhoneDigitValue = map[rune]int{'洞': 0, '拐': 7, '勾': 9}

// ZhUnitValue is the value of the Chinese place units.
var ZhUnitValue = map[rune]float64{'十': 10, '百': 100, '千': 1000, '万': 1e4, '亿': 1e8}

// ZhPlaces are the units within a group of four digits, from the thousands down; ZhGroups the units of the groups
// of four: 万, 亿, 万亿.
var (
	ZhPlaces = [4]string{"千", "百", "十", ""}
	ZhGroups = [4]string{"", "万", "亿", "万亿"}
)

// English number words.
var (
	// EnOnes are zero … nineteen, by value.
	EnOnes = [20]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	// EnTens are the tens by their digit: EnTens[2] is "twenty" (0 and 1 are empty).
	EnTens = [10]string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
)

// EnValue is the value of every English number word a caller may say ("oh" is the zero of a digit string).
var EnValue = func() map[string]int {
	m := map[string]int{"oh": 0, "hundred": 100, "thousand": 1000, "million": 1e6}
	for v, w := range EnOnes {
		m[w] = v
	}
	for v, w := range EnTens {
		if w != "" {
			m[w] = 10 * v
		}
	}
	return m
}()
