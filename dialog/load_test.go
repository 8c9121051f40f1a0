package dialog

import (
	"errors"
	"strings"
	"testing"
)

const validScript = `name: t
start: ask
variables:
  name: {type: string, required: true}
  days: {type: int, required: true}
intents:
  - {name: yes, keywords: [好的, 可以]}
nodes:
  ask:
    say: ["{{.name}}您好,可以吗?"]
    routes:
      - {intent: yes, when: "days > 2", goto: bye}
      - {goto: bye}
  bye:
    say: ["再见"]
    end: {action: hangup}
`

func TestLoadValid(t *testing.T) {
	s, err := Load([]byte(validScript), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Node("ask") == nil || s.Node("ask").ID() != "ask" || s.Settings.MaxUnresolved != 3 {
		t.Fatalf("bad compile: %+v", s.Settings)
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string // substrings of the error, each must appear
	}{
		{"unknown goto", func(s string) string {
			return strings.Replace(s, "goto: bye}\n      - {goto", "goto: nowhere}\n      - {goto", 1)
		},
			[]string{"t.yaml:12: nodes.ask.routes[0].goto: unknown node \"nowhere\""}},
		{"bad expression", func(s string) string { return strings.Replace(s, "days > 2", "days >", 1) },
			[]string{"t.yaml:12: nodes.ask.routes[0].when: bad expression"}},
		{"undeclared in expression", func(s string) string { return strings.Replace(s, "days > 2", "dayz > 2", 1) },
			[]string{"nodes.ask.routes[0].when: bad expression", "dayz"}},
		{"bad template", func(s string) string { return strings.Replace(s, "{{.name}}您好", "{{.name您好", 1) },
			[]string{"t.yaml:10: nodes.ask.say[0]: bad template"}},
		{"missing variable in template", func(s string) string { return strings.Replace(s, "{{.name}}您好", "{{.nmae}}您好", 1) },
			[]string{"t.yaml:10: nodes.ask.say[0]: template", "nmae"}},
		{"unreachable node", func(s string) string { return s + "  lost:\n    say: [x]\n    end: {}\n" },
			[]string{"t.yaml:17: nodes.lost: node \"lost\" is unreachable"}},
		{"unknown intent", func(s string) string { return strings.Replace(s, "intent: yes", "intent: maybe", 1) },
			[]string{"nodes.ask.routes[0].intent: unknown intent \"maybe\""}},
		{"unknown field", func(s string) string { return strings.Replace(s, "say: [\"再见\"]", "sya: [\"再见\"]", 1) },
			[]string{"t.yaml:15: field sya not found"}},
		{"unknown start", func(s string) string { return strings.Replace(s, "start: ask", "start: nope", 1) },
			[]string{"t.yaml:2: start: unknown node \"nope\""}},
		{"bad var type", func(s string) string { return strings.Replace(s, "type: int", "type: integer", 1) },
			[]string{"t.yaml:5: variables.days.type: unknown type"}},
		{"bad end action", func(s string) string { return strings.Replace(s, "action: hangup", "action: explode", 1) },
			[]string{"nodes.bye.end.action: unknown action"}},
		{"several at once", func(s string) string {
			return strings.Replace(strings.Replace(s, "days > 2", "days >", 1), "{{.name}}您好", "{{.nmae}}您好", 1)
		}, []string{"2 problem(s)", "when: bad expression", "say[0]: template"}},
		{"decision loop", func(s string) string {
			return strings.Replace(s, "start: ask", "start: d1", 1) + "  d1:\n    routes: [{when: \"days > 1\", goto: d2}, {goto: ask}]\n  d2:\n    routes: [{goto: d1}]\n"
		}, []string{"decision nodes loop through"}},
		{"not yaml", func(string) string { return "nodes: [\n" }, []string{"t.yaml:"}},
		{"empty", func(string) string { return "" }, []string{"no nodes", "no start node"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.edit(validScript)), "t.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidScript) {
				t.Fatalf("error %v does not match ErrInvalidScript", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestStartMissingVariable(t *testing.T) {
	s, err := Load([]byte(validScript), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Start(s, "c1", map[string]any{"name": "王五"}, Options{})
	if !errors.Is(err, ErrMissingVariable) || !strings.Contains(err.Error(), "days") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = Start(s, "c1", map[string]any{"name": "王五", "days": "many"}, Options{})
	if !errors.Is(err, ErrMissingVariable) {
		t.Fatalf("wrong type: err = %v", err)
	}
}

// TestCheckVars: a contact record is checked before its call, and every problem is named at once — a missing
// variable, an empty one, one that is not of its type.
func TestCheckVars(t *testing.T) {
	s, err := Load([]byte(`name: t
start: ask
variables:
  name: {type: string, required: true}
  amount: {type: float, required: true}
  days: {type: int, required: true}
  note: {type: string, default: "-"}
  limit: {type: int, default: 5}
nodes:
  ask: {say: ["{{.name}}{{.amount}}{{.days}}{{.note}}{{.limit}}"], end: {}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckVars(map[string]any{"name": "张三", "amount": "12.5", "days": 3, "limit": ""}); err != nil {
		t.Errorf("a good record: %v", err)
	}
	err = s.CheckVars(map[string]any{"amount": "", "days": "abc"})
	if !errors.Is(err, ErrMissingVariable) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"missing variable: amount, name", `days is not an int: "abc"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(validScript))
	f.Add([]byte("nodes: [\n"))
	f.Add([]byte("start: a\nnodes:\n  a:\n    routes: [{goto: a, when: '1 +'}]\n"))
	f.Add([]byte("start: a\nnodes:\n  a: &x\n    say: ['{{.x}}']\n    end: *x\n"))
	f.Add([]byte("variables: {a: {type: int, default: x}}\nslots: [{name: a, kind: enum}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalidScript) {
				t.Fatalf("error not ErrInvalidScript: %v", err)
			}
			return
		}
		// A script that loads must start without panicking.
		vars := map[string]any{}
		for k, v := range s.Variables {
			vars[k] = varTypes[v.Type]
		}
		c, _, err := Start(s, "f", vars, Options{})
		if err != nil {
			return
		}
		for _, in := range []Input{Say("好的"), Silence(), Press("1"), Say("转人工")} {
			if c.Done() {
				break
			}
			if _, err := c.Step(t.Context(), in); err != nil {
				t.Fatal(err)
			}
		}
	})
}
