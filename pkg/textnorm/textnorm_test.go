package textnorm

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeZH(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"amount yuan", "¥1,250.50", "一千二百五十元五角"},
		{"amount fen", "￥1250.05", "一千二百五十元零五分"},
		{"amount jiao fen", "¥0.55", "五角五分"},
		{"amount whole", "¥300", "三百元"},
		{"amount suffix", "本期应还1,250.50元", "本期应还一千二百五十元五角"},
		{"amount zero", "¥0", "零元"},
		{"amount big", "¥100,005,000", "一亿零五千元"},
		{"dollars", "$1,250.50", "一千二百五十美元五十美分"},
		{"date", "2026-11-23", "二〇二六年十一月二十三日"},
		{"date slash", "2026/1/5", "二〇二六年一月五日"},
		{"date zh", "2026年11月23日", "二〇二六年十一月二十三日"},
		{"time", "18:00", "十八点整"},
		{"time minutes", "9:05", "九点零五分"},
		{"time seconds", "14:30:15", "十四点三十分十五秒"},
		{"percent", "年化利率12.5%", "年化利率百分之十二点五"},
		{"mobile", "请拨打13800138000", "请拨打幺三八 零零幺三 八零零零"},
		{"mobile bare", "手机号是 13912345678。", "手机号是 幺三九 幺二三四 五六七八。"},
		{"landline", "联系010-12345678", "联系零幺零 幺二三四五六七八"},
		{"hotline", "客服热线95588", "客服热线九五五八八"},
		{"400", "400-810-1234", "四零零 八幺零 幺二三四"},
		{"bank hotline", "或致电银行95566", "或致电银行九五五六六"},
		{"consult", "详询95588。", "详询九五五八八。"},
		{"card tail", "您尾号1234的信用卡", "您尾号幺二三四的信用卡"},
		{"code", "验证码：203911", "验证码：二零三九幺幺"},
		{"number", "共3笔", "共三笔"},
		{"ten", "10天", "十天"},
		{"teens", "第12期", "第十二期"},
		{"zeros", "100005人", "十万零五人"},
		{"inner zero", "1010", "一千零一十"},
		{"wan", "20000", "二万"},
		{"decimal", "3.14", "三点一四"},
		{"long id", "订单9876543210", "订单九八七六五四三二幺零"},
		{"bare id", "流水 12345678", "流水 幺二三四五六七八"},
		{"ratio", "比分3:2", "比分三比二"},
		{"no digits", "您好，请问是张先生吗？", "您好，请问是张先生吗？"},
		{"full example", "您尾号1234的卡本期应还¥1,250.50，请于2026-11-23 18:00前还款",
			"您尾号幺二三四的卡本期应还一千二百五十元五角，请于二〇二六年十一月二十三日 十八点整前还款"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Normalize(tc.in, "zh"); got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeEN(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"amount", "$1,250.50", "one thousand two hundred fifty dollars and fifty cents"},
		{"one dollar", "$1", "one dollar"},
		{"cents", "$0.01", "one cent"},
		{"one cent digit", "$3.5", "three dollars and fifty cents"},
		{"yuan", "¥1,250.50", "one thousand two hundred fifty point five zero yuan"},
		{"date", "due on 2026-11-23.", "due on November twenty-third, twenty twenty-six."},
		{"date 2000s", "2005-01-01", "January first, two thousand five"},
		{"date 1900s", "1999-12-31", "December thirty-first, nineteen ninety-nine"},
		{"time pm", "at 14:30", "at two thirty PM"},
		{"time am", "at 9:05", "at nine oh five AM"},
		{"time noon", "12:00", "twelve PM"},
		{"time midnight", "0:00", "twelve AM"},
		{"time explicit", "at 3:15 pm", "at three fifteen PM"},
		{"percent", "12.5%", "twelve point five percent"},
		{"ordinal", "the 23rd", "the twenty-third"},
		{"ordinal 12", "12th", "twelfth"},
		{"ordinal 100", "100th", "one hundredth"},
		{"ordinal 40", "40th", "fortieth"},
		{"phone", "call 555-123-4567", "call five five five, one two three, four five six seven"},
		{"phone parens", "(555) 123-4567", "five five five, one two three, four five six seven"},
		{"card", "card ending in 1234", "card ending in one two three four"},
		{"code", "your code is 5821", "your code is five eight two one"},
		{"number", "3 payments", "three payments"},
		{"big", "1,000,001", "one million one"},
		{"hundreds", "215", "two hundred fifteen"},
		{"decimal", "3.14", "three point one four"},
		{"long id", "ref 12345678", "ref one two three four five six seven eight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Normalize(tc.in, "en"); got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNumberZH(t *testing.T) {
	for n, want := range map[int64]string{
		0: "零", 1: "一", 10: "十", 11: "十一", 20: "二十", 101: "一百零一", 110: "一百一十", 1001: "一千零一",
		10000: "一万", 10001: "一万零一", 10010: "一万零一十", 100000: "十万", 110000: "十一万",
		1000000: "一百万", 10000000: "一千万", 100000000: "一亿", 100010000: "一亿零一万", 120000000: "一亿二千万",
		1234567890: "十二亿三千四百五十六万七千八百九十", -5: "负五", 1000000000000: "一万亿",
	} {
		if got := NumberZH(n); got != want {
			t.Errorf("NumberZH(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNumberEN(t *testing.T) {
	for n, want := range map[int64]string{
		0: "zero", 7: "seven", 13: "thirteen", 20: "twenty", 21: "twenty-one", 100: "one hundred",
		101: "one hundred one", 1000: "one thousand", 1250: "one thousand two hundred fifty",
		1000000: "one million", 2000000001: "two billion one", -3: "minus three",
	} {
		if got := NumberEN(n); got != want {
			t.Errorf("NumberEN(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNormalizeOtherLanguage(t *testing.T) {
	if got := Normalize("¥12", "ja"); got != "¥12" {
		t.Errorf("unknown language changed: %q", got)
	}
	if got := Normalize("¥12", ""); got != "十二元" {
		t.Errorf("default language: %q", got)
	}
}

var asciiDigit = regexp.MustCompile(`[0-9]`)

// FuzzNormalize: whatever the input, no panic, valid UTF-8 out, no ASCII digit left for the synthesizer to guess
// at, and letters and Chinese characters of the input kept.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"¥1,250.50", "2026-11-23 18:00", "13800138000", "$0.01", "99999999999999999999",
		"1,2,3", "12:99", "2026-13-45", "9:5", "尾号", "¥", "$,", "1.2.3.4", "0000", "-1", "１２３"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 200 {
			return
		}
		for _, lang := range []string{"zh", "en"} {
			out := Normalize(s, lang)
			if !utf8.ValidString(out) {
				t.Fatalf("%s: invalid UTF-8 from %q", lang, s)
			}
			if asciiDigit.MatchString(out) {
				t.Fatalf("%s: digits left in %q → %q", lang, s, out)
			}
			for _, r := range s {
				if (r >= 'a' && r <= 'z' || r >= 0x4e00 && r <= 0x9fff) && !strings.ContainsRune(out, r) {
					t.Fatalf("%s: lost %q from %q → %q", lang, r, s, out)
				}
			}
		}
	})
}

func BenchmarkNormalizeZH(b *testing.B) {
	s := "您尾号1234的卡本期应还¥1,250.50，请于2026-11-23 18:00前还款，客服热线95588。"
	for b.Loop() {
		Normalize(s, "zh")
	}
}
