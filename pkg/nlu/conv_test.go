package nlu

import "testing"

func TestConvert(t *testing.T) {
	tests := []struct{ in, want string }{
		{"一千二", "1200"},
		{"两万", "20000"},
		{"三点五", "3.5"},
		{"一万二千五百", "12500"},
		{"幺三八", "138"},
		{"一千二百五十块五毛", "1250块5毛"},
		{"一千零五", "1005"},
		{"十五号", "15号"},
		{"三百五", "350"},
		{"两万五", "25000"},
		{"一亿二千万", "120000000"},
		{"下午三点五十", "下午3点50"},
		{"三点一刻", "3点1刻"},
		{"等一下", "等一下"},
		{"十分感谢", "十分感谢"},
		{"十分钟", "10分钟"},
		{"三点五万", "35000"},
		{"1.5万元", "15000元"},
		{"¥1,250.50", "¥1250.50"},
		{"twenty five dollars", "25 dollars"},
		{"four five six seven", "4567"},
		{"one hundred and twenty", "120"},
		{"double seven", "77"},
		{"星期一", "星期1"},
		{"oh no", "oh no"},
		{"千万别", "千万别"},
	}
	for _, tc := range tests {
		if got := convert(normalize(tc.in)).s; got != tc.want {
			t.Errorf("convert(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
