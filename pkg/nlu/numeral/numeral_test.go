package numeral

import "testing"

// The words written and the words read are one vocabulary: every digit word reads back as its value.
func TestVocabularyRoundTrip(t *testing.T) {
	for v := range 10 {
		for _, w := range []string{ZhDigits[v], ZhCodeDigits[v], ZhYearDigits[v]} {
			if got := ZhDigitValue[[]rune(w)[0]]; got != v {
				t.Errorf("%s = %d, want %d", w, got, v)
			}
		}
	}
	for v, w := range EnOnes {
		if EnValue[w] != v {
			t.Errorf("%s = %d, want %d", w, EnValue[w], v)
		}
	}
	for d := 2; d < 10; d++ {
		if EnValue[EnTens[d]] != 10*d {
			t.Errorf("%s = %d", EnTens[d], EnValue[EnTens[d]])
		}
	}
	for _, u := range ZhPlaces[:3] {
		if ZhUnitValue[[]rune(u)[0]] == 0 {
			t.Errorf("place %s has no value", u)
		}
	}
}
