package callee

import "testing"

func TestTestDialplan(t *testing.T) {
	answers := map[string]Answer{"busy": Busy, "noanswer": NoAnswer, "congestion": Congestion}
	for _, exten := range TestExtensions {
		s, ok := TestDialplan(exten)
		if !ok || s.Name != exten {
			t.Fatalf("%s: %+v, %v", exten, s, ok)
		}
		if want, ok := answers[exten]; ok && s.Answer != want {
			t.Errorf("%s answers %v, want %v", exten, s.Answer, want)
		}
		if _, refused := answers[exten]; !refused && len(s.Steps) == 0 {
			t.Errorf("%s is answered with no steps", exten)
		}
	}
	if s, ok := TestDialplan("1000"); ok {
		t.Fatalf("an unknown extension has a script: %+v", s)
	}
}
