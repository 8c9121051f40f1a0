package nlu

import "testing"

func TestIsBackchannel(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"嗯", true}, {"嗯嗯", true}, {"对", true}, {"好的。", true}, {"喂？", true}, {"是的", true}, {"嗯，对", true},
		{"嗯嗯嗯嗯", true}, {"呃", true}, {"uh-huh", true}, {"OK", true}, {"yeah", true}, {"Mm-hmm.", true}, {"ok ok", true},
		{"", false}, {"  ", false}, {"不对", false}, {"好的，我不需要", false}, {"等一下", false}, {"wait", false},
		{"yeah but no", false}, {"嗯，我想问一下利息", false},
	}
	for _, tc := range tests {
		if got := IsBackchannel(tc.text); got != tc.want {
			t.Errorf("IsBackchannel(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestSpokenLength(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0}, {"不用了", 3}, {"no thanks", 2}, {"我要 cancel 订单", 5}, {"你好，hello world！", 4}, {"1234", 1},
		{"don't call", 2}, {"ＯＫ", 1}, {"。。。", 0},
	}
	for _, tc := range tests {
		if got := SpokenLength(tc.text); got != tc.want {
			t.Errorf("SpokenLength(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}

func TestIsDigitString(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"1380", true}, {"幺三八零", true}, {"六 七 八 九", true}, {"four five six", true}, {"尾号六七八九", true},
		{"13800138000", true}, {"1 3 8", true}, {"double seven", true}, {"one three eight oh", true},
		{"一千二", false}, {"twenty", false}, {"5", false}, {"好的", false}, {"three apples", false}, {"", false},
		{"二十三", false},
		{"我的卡号是六二二二", true}, {"my card ends with four five six", true}, {"身份证号码是 1 1 0 1", true},
		{"我今年二十五", false}, {"我欠了三百四十五", false}, {"我下午三点到", false}, {"one", false},
		{"I'm twenty", false}, {"我一两天就还", false},
	}
	for _, tc := range tests {
		if got := IsDigitString(tc.text); got != tc.want {
			t.Errorf("IsDigitString(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}
