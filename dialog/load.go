package dialog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/outcall/outcall/pkg/nlu"
	"gopkg.in/yaml.v3"
)

// maxScriptSize bounds what Load reads, so a stray file cannot exhaust memory.
const maxScriptSize = 4 << 20

// LoadFile reads and compiles a YAML script. Every problem is reported at once, with file:line and field, in a
// *ScriptError (errors.Is(err, ErrInvalidScript)).
func LoadFile(path string) (*Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dialog: read script: %w", err)
	}
	return Load(b, path)
}

// Load parses and compiles a YAML script; name is used in problem reports (usually the file name).
func Load(data []byte, name string) (*Script, error) {
	if len(data) > maxScriptSize {
		return nil, &ScriptError{Problems: []Problem{{File: name, Msg: fmt.Sprintf("script larger than %d bytes", maxScriptSize)}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ScriptError{Problems: yamlProblems(name, err)}
	}
	s := &Script{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ScriptError{Problems: yamlProblems(name, err)}
	}
	s.file = name
	pos := map[string]int{}
	if len(root.Content) > 0 {
		walkPositions(root.Content[0], "", pos)
	}
	return s, s.compile(pos)
}

// Compile checks a script built in Go and prepares it to run. It reports every problem in a *ScriptError.
func (s *Script) Compile() error { return s.compile(nil) }

var lineRE = regexp.MustCompile(`line (\d+): `)

func yamlProblems(file string, err error) []Problem {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	ps := make([]Problem, 0, len(msgs))
	for _, m := range msgs {
		p := Problem{File: file, Msg: m}
		if sm := lineRE.FindStringSubmatchIndex(m); sm != nil {
			p.Line, _ = strconv.Atoi(m[sm[2]:sm[3]])
			p.Msg = m[:sm[0]] + m[sm[1]:]
		}
		ps = append(ps, p)
	}
	return ps
}

// walkPositions records the line of every field path ("nodes.greet.routes[0].when") in the YAML tree.
func walkPositions(n *yaml.Node, path string, pos map[string]int) {
	if n == nil {
		return
	}
	if _, ok := pos[path]; !ok {
		pos[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if path != "" {
				p = path + "." + k
			}
			pos[p] = n.Content[i].Line
			walkPositions(n.Content[i+1], p, pos)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkPositions(c, fmt.Sprintf("%s[%d]", path, i), pos)
		}
	case yaml.AliasNode:
		// Aliases point at a node already walked; following them could loop.
	}
}

type checker struct {
	file     string
	pos      map[string]int
	problems []Problem
}

func (c *checker) add(field, format string, args ...any) {
	line := 0
	if c.pos != nil {
		// The nearest recorded ancestor gives the line when the field itself was not written.
		for p := field; p != ""; p = parentPath(p) {
			if l, ok := c.pos[p]; ok {
				line = l
				break
			}
		}
	}
	c.problems = append(c.problems, Problem{File: c.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Names the runtime puts into every expression and template environment, besides variables and slots.
var reserved = map[string]any{
	"intent": "", "text": "", "mood": "", "turn": 0, "has": map[string]bool{}, "dtmf": "",
}

var slotKinds = map[string]any{
	"text": "", "number": 0.0, "amount": 0.0, "date": "", "time": "", "yesno": false, "digits": "", "enum": "",
}

var varTypes = map[string]any{"string": "", "int": 0, "float": 0.0, "bool": false}

func (s *Script) compile(pos map[string]int) error {
	c := &checker{file: s.file, pos: pos}
	if s.Language == "" {
		s.Language = "zh"
	}
	if s.Language != "zh" && s.Language != "en" {
		c.add("language", "unknown language %q (want zh or en)", s.Language)
	}
	s.compileSettings(c)
	s.compileVariables(c)
	s.compileIntents(c)
	s.compileSlots(c)
	for i := range s.FAQ {
		q := &s.FAQ[i]
		f := fmt.Sprintf("faq[%d]", i)
		if len(q.Questions) == 0 {
			c.add(f+".q", "FAQ entry without questions")
		}
		if q.Answer == "" {
			c.add(f+".a", "FAQ entry without an answer")
		}
		q.tmpl = s.checkTemplate(c, f+".a", q.Answer)
	}
	s.kb = s.knowledgeBase()
	if len(s.Nodes) == 0 {
		c.add("nodes", "script has no nodes")
	}
	if s.Start == "" {
		c.add("start", "no start node")
	} else if s.Nodes[s.Start] == nil {
		c.add("start", "unknown node %q", s.Start)
	}
	for _, id := range sortedKeys(s.Nodes) {
		s.compileNode(c, id)
	}
	if e := s.Settings.Escalate; e != "" {
		if n := s.Nodes[e]; n == nil {
			c.add("settings.escalate", "unknown node %q", e)
		} else if n.End == nil {
			c.add("settings.escalate", "escalation node %q must end the call", e)
		}
	}
	s.checkReachable(c)
	s.checkDecisionLoops(c)
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].Line < c.problems[j].Line })
		return &ScriptError{Problems: c.problems}
	}
	s.compiled = true
	return nil
}

// compileSettings fills the settings' defaults and checks them.
func (s *Script) compileSettings(c *checker) {
	st := &s.Settings
	if st.MaxUnresolved == 0 {
		st.MaxUnresolved = 3
	}
	if st.MaxNoInput == 0 {
		st.MaxNoInput = 2
	}
	if st.MaxNoMatch == 0 {
		st.MaxNoMatch = 2
	}
	if st.CallbackAfter == 0 {
		st.CallbackAfter = Duration(2 * time.Hour)
	}
	if st.Slow == 0 {
		st.Slow = 0.85
	}
	if st.HumanOnAgitated == nil {
		t := true
		st.HumanOnAgitated = &t
	}
	if st.MaxUnresolved < 0 || st.MaxNoInput < 0 || st.MaxNoMatch < 0 {
		c.add("settings", "thresholds must be positive")
	}
}

// compileVariables types the contact-record variables and builds the checking environment.
func (s *Script) compileVariables(c *checker) {
	s.env = map[string]any{}
	for k, v := range reserved {
		s.env[k] = v
	}
	for _, name := range sortedKeys(s.Variables) {
		v := s.Variables[name]
		f := "variables." + name
		if !isIdent(name) {
			c.add(f, "variable name %q is not an identifier", name)
			continue
		}
		if _, ok := reserved[name]; ok {
			c.add(f, "variable name %q is reserved", name)
			continue
		}
		if v.Type == "" {
			v.Type = "string"
			s.Variables[name] = v
		}
		zero, ok := varTypes[v.Type]
		if !ok {
			c.add(f+".type", "unknown type %q (want string, int, float or bool)", v.Type)
			continue
		}
		if v.Default != nil {
			if _, err := convertVar(v.Type, v.Default); err != nil {
				c.add(f+".default", "%v", err)
			}
		}
		s.env[name] = zero
	}
}

// compileIntents checks the script's intents and compiles them, with the built-in ones, for pkg/nlu.
func (s *Script) compileIntents(c *checker) {
	s.intentBy = map[string]*Intent{}
	for i := range s.Intents {
		in := &s.Intents[i]
		f := fmt.Sprintf("intents[%d]", i)
		switch {
		case in.Name == "":
			c.add(f+".name", "intent without a name")
			continue
		case s.intentBy[in.Name] != nil:
			c.add(f+".name", "duplicate intent %q", in.Name)
			continue
		case len(in.Keywords) == 0 && len(in.Patterns) == 0:
			c.add(f, "intent %q has neither keywords nor patterns", in.Name)
		}
		for j, p := range in.Patterns {
			if _, err := regexp.Compile(p); err != nil {
				c.add(fmt.Sprintf("%s.patterns[%d]", f, j), "bad pattern: %v", err)
			}
		}
		s.intentBy[in.Name] = in
	}
	s.und, s.common = understandingOf(s.Intents)
	if s.common != nil {
		s.means = meaningsOf(s.Intents, s.common)
	}
}

// compileSlots checks the slot definitions.
func (s *Script) compileSlots(c *checker) {
	s.slotBy = map[string]*Slot{}
	for i := range s.Slots {
		sl := &s.Slots[i]
		f := fmt.Sprintf("slots[%d]", i)
		if sl.Kind == "" {
			sl.Kind = "text"
		}
		zero, ok := slotKinds[sl.Kind]
		switch {
		case !isIdent(sl.Name):
			c.add(f+".name", "slot name %q is not an identifier", sl.Name)
			continue
		case s.slotBy[sl.Name] != nil:
			c.add(f+".name", "duplicate slot %q", sl.Name)
			continue
		case s.env[sl.Name] != nil:
			c.add(f+".name", "slot %q clashes with a variable or reserved name", sl.Name)
			continue
		case !ok:
			c.add(f+".kind", "unknown slot kind %q", sl.Kind)
			continue
		case sl.Kind == "enum" && len(sl.Values) == 0:
			c.add(f+".values", "enum slot %q has no values", sl.Name)
		}
		if sl.Pattern != "" {
			re, err := regexp.Compile(sl.Pattern)
			if err != nil {
				c.add(f+".pattern", "bad pattern: %v", err)
			} else {
				sl.re = re
			}
		}
		s.slotBy[sl.Name] = sl
		s.env[sl.Name] = zero
	}
}

func (s *Script) compileNode(c *checker, id string) {
	n := s.Nodes[id]
	f := "nodes." + id
	if n == nil {
		c.add(f, "empty node")
		s.Nodes[id] = &Node{id: id}
		return
	}
	n.id = id
	n.say = s.checkTemplates(c, f+".say", n.Say)
	n.soft = s.checkTemplates(c, f+".soft", n.Soft)
	n.reprompt = s.checkTemplates(c, f+".reprompt", n.Reprompt)
	if len(n.soft) == 0 {
		n.soft = n.say
	}
	// Re-prompts cycle through the reprompt variants, then the main ones, so two re-prompts never sound the same
	// when the node has more than one text.
	n.reprompt = append(n.reprompt, n.say...)
	if l := n.LLM; l != nil {
		if l.System == "" {
			c.add(f+".llm.system", "LLM node without a system prompt")
		}
		l.system = s.checkTemplate(c, f+".llm.system", l.System)
		l.fallback = s.checkTemplate(c, f+".llm.fallback", l.Fallback)
		if l.MaxTurns == 0 {
			l.MaxTurns = 8
		}
		if l.Timeout == 0 {
			l.Timeout = Duration(6 * time.Second)
		}
		if l.MaxTurns < 0 || l.Timeout < 0 {
			c.add(f+".llm", "negative max_turns or timeout")
		}
		if l.Tools == nil {
			l.Tools = append([]string(nil), allTools...)
		}
		for i, t := range l.Tools {
			if !contains(allTools, t) {
				c.add(fmt.Sprintf("%s.llm.tools[%d]", f, i), "unknown tool %q (want one of %s)", t, strings.Join(allTools, ", "))
			}
		}
		if n.End != nil {
			c.add(f+".llm", "an LLM node cannot also end the call")
		}
	}
	switch {
	case n.LLM != nil:
	case len(n.Say) == 0 && n.End == nil && len(n.Routes) == 0:
		c.add(f, "node has no prompt, no routes and no end")
	case len(n.Say) == 0 && n.End == nil && !hasFallback(n.Routes):
		c.add(f+".routes", "decision node needs a last route without conditions so it cannot get stuck")
	case len(n.Say) > 0 && n.End == nil && len(n.Routes) == 0:
		c.add(f, "node speaks but has neither routes nor end")
	}
	if n.End != nil && len(n.Routes) > 0 {
		c.add(f+".routes", "a node with end cannot also have routes")
	}
	if n.Listen.Timeout < 0 || n.Listen.MaxUtterance < 0 || n.Listen.DTMFMax < 0 {
		c.add(f+".listen", "negative listen setting")
	}
	for i, name := range n.Capture {
		if s.slotBy[name] == nil {
			c.add(fmt.Sprintf("%s.capture[%d]", f, i), "unknown slot %q", name)
		}
	}
	s.compileRoutes(c, n, f)
	for _, g := range []struct{ field, to string }{{"noinput", n.NoInput}, {"nomatch", n.NoMatch}} {
		if g.to != "" && s.Nodes[g.to] == nil {
			c.add(f+"."+g.field, "unknown node %q", g.to)
		}
	}
	s.compileEnd(c, n, f)
	s.compileConfirm(c, n, f)
}

// compileEnd checks a node's end action and compiles its notifications.
func (s *Script) compileEnd(c *checker, n *Node, f string) {
	if e := n.End; e != nil {
		switch e.Action {
		case "":
			e.Action = "hangup"
		case "hangup", "transfer":
		default:
			c.add(f+".end.action", "unknown action %q (want hangup or transfer)", e.Action)
		}
		for i := range e.Notify {
			nt := &e.Notify[i]
			nf := fmt.Sprintf("%s.end.notify[%d]", f, i)
			if nt.Channel == "" {
				c.add(nf+".channel", "notify without a channel")
			}
			nt.to = s.checkTemplate(c, nf+".to", nt.To)
			nt.text = s.checkTemplate(c, nf+".text", nt.Text)
		}
	}
}

// compileRoutes checks a node's routes and compiles their conditions and slot settings.
func (s *Script) compileRoutes(c *checker, n *Node, f string) {
	for i := range n.Routes {
		r := &n.Routes[i]
		rf := fmt.Sprintf("%s.routes[%d]", f, i)
		if r.Intent != "" && s.intentBy[r.Intent] == nil && !isGlobalIntent(r.Intent) && !isCommonIntent(r.Intent) {
			c.add(rf+".intent", "unknown intent %q", r.Intent)
		}
		if r.Goto == "" {
			c.add(rf+".goto", "route without goto")
		} else if s.Nodes[r.Goto] == nil {
			c.add(rf+".goto", "unknown node %q", r.Goto)
		}
		if r.DTMF != "" && !n.Listen.DTMF {
			c.add(rf+".dtmf", "route on DTMF but the node's listen.dtmf is off")
		}
		if len(n.Say) == 0 && n.LLM == nil && (r.Intent != "" || r.DTMF != "") {
			c.add(rf, "a decision node (no say) can only route on when")
		}
		r.any = r.Intent == "" && r.DTMF == "" && r.When == ""
		if r.When != "" {
			p, err := expr.Compile(r.When, expr.Env(s.env), expr.AsBool())
			if err != nil {
				c.add(rf+".when", "bad expression: %s", oneLine(err))
			}
			r.when = p
		}
		r.set = map[string]*vm.Program{}
		for _, k := range sortedKeys(r.Set) {
			if s.slotBy[k] == nil {
				c.add(rf+".set."+k, "unknown slot %q", k)
				continue
			}
			p, err := expr.Compile(r.Set[k], expr.Env(s.env))
			if err != nil {
				c.add(rf+".set."+k, "bad expression: %s", oneLine(err))
				continue
			}
			r.set[k] = p
		}
	}
}

// quotedRE finds the fields a template reads: {{.pay_amount}}, {{money .pay_amount}}.
var quotedRE = regexp.MustCompile(`\.([A-Za-z_][A-Za-z0-9_]*)`)

// compileConfirm checks a node's read-back, and that a node whose notifications quote a captured amount, number,
// date or time has one: no side effect may quote a value the callee did not confirm.
func (s *Script) compileConfirm(c *checker, n *Node, f string) {
	if cf := n.Confirm; cf != nil {
		if cf.Say == "" {
			c.add(f+".confirm.say", "confirm without a read-back prompt")
		}
		cf.say = s.checkTemplate(c, f+".confirm.say", cf.Say)
		if cf.No == "" || s.Nodes[cf.No] == nil {
			c.add(f+".confirm.no", "confirm needs a known node to go to on a no, got %q", cf.No)
		}
		for i, name := range cf.Slots {
			if s.slotBy[name] == nil {
				c.add(fmt.Sprintf("%s.confirm.slots[%d]", f, i), "unknown slot %q", name)
			}
		}
		if n.End == nil {
			c.add(f+".confirm", "only a node that ends the call (with its side effects) confirms")
		}
		return
	}
	if n.End == nil {
		return
	}
	for i, nt := range n.End.Notify {
		for _, m := range quotedRE.FindAllStringSubmatch(nt.To+" "+nt.Text, -1) {
			if sl := s.slotBy[m[1]]; sl != nil && (sl.Kind == "amount" || sl.Kind == "number" || sl.Kind == "date" || sl.Kind == "time") {
				c.add(fmt.Sprintf("%s.end.notify[%d]", f, i), "quotes slot %q: the node needs a confirm (read-back) before it", m[1])
				return
			}
		}
	}
}

// knowledgeBase indexes the FAQ entries with pkg/nlu; an entry's answer is its template source, rendered when
// spoken.
func (s *Script) knowledgeBase() *nlu.KnowledgeBase {
	if len(s.FAQ) == 0 {
		return nil
	}
	entries := make([]nlu.FAQ, len(s.FAQ))
	for i, q := range s.FAQ {
		entries[i] = nlu.FAQ{ID: strconv.Itoa(i), Questions: q.Questions, Answer: q.Answer}
	}
	return nlu.NewKnowledgeBase(entries, nlu.WithMinScore(kbMinScore))
}

// kbMinScore is the share of a question's information an FAQ question must cover to answer it.
const kbMinScore = 0.45

func hasFallback(rs []Route) bool {
	return len(rs) > 0 && rs[len(rs)-1].Intent == "" && rs[len(rs)-1].DTMF == "" && rs[len(rs)-1].When == ""
}

func (s *Script) checkTemplates(c *checker, field string, srcs []string) []*template.Template {
	out := make([]*template.Template, 0, len(srcs))
	for i, src := range srcs {
		if t := s.checkTemplate(c, fmt.Sprintf("%s[%d]", field, i), src); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// checkTemplate parses src and renders it once on typed zero values, so a misspelt or undeclared variable is a
// load error, not a silent "<no value>" on a live call.
func (s *Script) checkTemplate(c *checker, field, src string) *template.Template {
	if src == "" {
		return nil
	}
	t, err := template.New(field).Option("missingkey=error").Funcs(templateFuncs).Parse(src)
	if err != nil {
		c.add(field, "bad template: %s", oneLine(err))
		return nil
	}
	if err := t.Execute(io.Discard, s.env); err != nil {
		c.add(field, "template: %s", oneLine(err))
		return nil
	}
	return t
}

func (s *Script) checkReachable(c *checker) {
	if s.Nodes[s.Start] == nil {
		return
	}
	seen := map[string]bool{s.Start: true}
	queue := []string{s.Start}
	if e := s.Settings.Escalate; e != "" && s.Nodes[e] != nil {
		seen[e] = true
		queue = append(queue, e)
	}
	for len(queue) > 0 {
		n := s.Nodes[queue[0]]
		queue = queue[1:]
		if n == nil {
			continue
		}
		next := []string{n.NoInput, n.NoMatch}
		for _, r := range n.Routes {
			next = append(next, r.Goto)
		}
		for _, id := range next {
			if id != "" && !seen[id] && s.Nodes[id] != nil {
				seen[id] = true
				queue = append(queue, id)
			}
		}
	}
	for _, id := range sortedKeys(s.Nodes) {
		if !seen[id] {
			c.add("nodes."+id, "node %q is unreachable from start %q", id, s.Start)
		}
	}
}

// checkDecisionLoops reports cycles made only of decision nodes: the call would go round them without ever
// speaking or listening.
func (s *Script) checkDecisionLoops(c *checker) {
	isDecision := func(n *Node) bool { return n != nil && len(n.Say) == 0 && n.End == nil && n.LLM == nil }
	state := map[string]int{} // 1: on the DFS stack, 2: done
	var visit func(id string) bool
	visit = func(id string) bool {
		state[id] = 1
		for _, r := range s.Nodes[id].Routes {
			if !isDecision(s.Nodes[r.Goto]) {
				continue
			}
			if state[r.Goto] == 1 {
				c.add("nodes."+id, "decision nodes loop through %q without speaking", r.Goto)
				return true
			}
			if state[r.Goto] == 0 && visit(r.Goto) {
				return true
			}
		}
		state[id] = 2
		return false
	}
	for _, id := range sortedKeys(s.Nodes) {
		if isDecision(s.Nodes[id]) && state[id] == 0 {
			visit(id)
		}
	}
}

func convertVar(typ string, v any) (any, error) {
	switch typ {
	case "string":
		switch x := v.(type) {
		case string:
			return x, nil
		case fmt.Stringer:
			return x.String(), nil
		case int, int64, float64, bool:
			return fmt.Sprint(x), nil
		}
	case "int":
		switch x := v.(type) {
		case int:
			return x, nil
		case int64:
			return int(x), nil
		case float64:
			if x == float64(int(x)) {
				return int(x), nil
			}
		case string:
			if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
				return n, nil
			}
		}
	case "float":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return f, nil
			}
		}
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b, nil
			}
		}
	}
	return nil, fmt.Errorf("value %v (%T) is not a %s", v, v, typ)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
