package dialog

import (
	"errors"
	"strings"
	"testing"
)

func TestScriptBuiltInGo(t *testing.T) {
	s := &Script{
		Name: "go", Start: "hello", Language: "en",
		Variables: map[string]Variable{"name": {Required: true}},
		Intents:   []Intent{{Name: "yes", Keywords: []string{"yes", "sure"}}},
		Nodes: map[string]*Node{
			"hello": {Say: []string{"Hi {{.name}}, can we talk?"}, Routes: []Route{{Intent: "yes", Goto: "bye", Tags: []string{"talked"}}}},
			"bye":   {Say: []string{"Great, bye."}, End: &End{}},
		},
	}
	if err := s.Compile(); err != nil {
		t.Fatal(err)
	}
	sim, err := Simulate(s, map[string]any{"name": "Ann"}, Say("sure thing"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sim.Prompts(), "|"); got != "Hi Ann, can we talk?|Great, bye." || !sim.Outcome().Has("talked") {
		t.Fatalf("prompts %q outcome %+v", got, sim.Outcome())
	}
	// English global handlers.
	sim, _ = Simulate(s, map[string]any{"name": "Ann"}, Say("please stop calling me"))
	if !sim.Outcome().OptOut || !strings.Contains(sim.Last().Prompt, "won't call you again") {
		t.Fatalf("opt-out: %+v %q", sim.Outcome(), sim.Last().Prompt)
	}
	bad := &Script{Start: "x", Nodes: map[string]*Node{"x": {Say: []string{"{{"}}}}
	err = bad.Compile()
	var se *ScriptError
	if !errors.As(err, &se) || len(se.Problems) != 2 {
		t.Fatalf("Go-built problems: %v", err)
	}
}

func TestConversationBadUse(t *testing.T) {
	if _, _, err := Start(&Script{}, "c", nil, Options{}); !errors.Is(err, ErrInvalidScript) {
		t.Fatalf("uncompiled: %v", err)
	}
	s, err := Load([]byte(validScript), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := Start(s, "c", map[string]any{"name": "a", "days": 3}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Step(t.Context(), Input{Kind: 99}); err == nil {
		t.Fatal("unknown input kind accepted")
	}
	if _, err := c.Step(t.Context(), HungUp()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Step(t.Context(), Say("hi")); !errors.Is(err, ErrEnded) {
		t.Fatalf("after end: %v", err)
	}
	if _, err := Resume(s, &State{Node: "nope"}, Options{}); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("resume unknown node: %v", err)
	}
	if _, err := Resume(s, nil, Options{}); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("resume nil: %v", err)
	}
}
