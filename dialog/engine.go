package dialog

import (
	"context"

	"fmt"
	"github.com/outcall/outcall/pkg/nlu"
	"strings"
	"text/template"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// InputKind says what the callee did in a turn.
type InputKind int

// Input kinds.
const (
	Utterance InputKind = iota + 1 // said Text
	Keys                           // pressed Digits
	NoInput                        // stayed silent past the node's timeout
	Hangup                         // hung up
)

// Input is what the callee did in one turn.
type Input struct {
	Kind      InputKind
	Text      string   // Utterance: the final transcript
	Digits    string   // Keys: the digits pressed
	Sentiment *float64 // optional score from an external analyser; nil: Options.Sentiment scores Text
}

// Say, Press, Silence and HungUp build Inputs.
func Say(text string) Input     { return Input{Kind: Utterance, Text: text} }
func Press(digits string) Input { return Input{Kind: Keys, Digits: digits} }
func Silence() Input            { return Input{Kind: NoInput} }
func HungUp() Input             { return Input{Kind: Hangup} }

// EndAction is how a conversation ends.
type EndAction string

// End actions.
const (
	EndNone         EndAction = ""              // still talking
	EndHangup       EndAction = "hangup"        // the bot hangs up after the prompt
	EndTransfer     EndAction = "transfer"      // the bot transfers to a human after the prompt
	EndCalleeHangup EndAction = "callee_hangup" // the callee hung up
)

// Outcome is how the conversation went, for the campaign (retry, do-not-call) and the report.
type Outcome struct {
	Tags           []string  `json:"tags,omitempty"`            // outcome tags in the order they were set
	End            EndAction `json:"end,omitempty"`             // how it ended
	Node           string    `json:"node,omitempty"`            // node where it ended
	TransferReason string    `json:"transfer_reason,omitempty"` // why it went to a human: requested, agitated, unresolved, or the script's reason
	CallbackAt     time.Time `json:"callback_at,omitzero"`      // when to call again (busy callee)
	OptOut         bool      `json:"opt_out,omitempty"`         // the callee asked not to be called again
}

// Has reports whether the outcome carries tag.
func (o Outcome) Has(tag string) bool {
	for _, t := range o.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// State is one call's conversation state: all a process needs to continue the call (see Resume).
type State struct {
	CallID     string         `json:"call_id"`
	Script     string         `json:"script"`
	Node       string         `json:"node"`
	Vars       map[string]any `json:"vars"`
	Slots      map[string]any `json:"slots"`
	Turn       int            `json:"turn"`
	NoInput    int            `json:"no_input"`   // silent turns at this node
	NoMatch    int            `json:"no_match"`   // unmatched turns at this node
	Unresolved int            `json:"unresolved"` // unresolved turns in the call
	Variant    int            `json:"variant"`    // prompt variant last used at this node
	Mood       Mood           `json:"mood"`
	MoodScore  float64        `json:"mood_score"`
	LastPrompt string         `json:"last_prompt"`
	Outcome    Outcome        `json:"outcome"`
	Done       bool           `json:"done"`
	LLMTurns   int            `json:"llm_turns,omitempty"`   // model turns at the current LLM node
	LLMHistory []ChatMessage  `json:"llm_history,omitempty"` // the model conversation at the current LLM node
}

// Notification is a request for the Notifier: an SMS, a webhook, an alert to a doctor or a risk team.
type Notification struct {
	CallID  string         // the call it came from
	Channel string         // the script's channel name: "sms", "webhook", "alert", ...
	To      string         // recipient, rendered; empty: the Notifier's default
	Text    string         // message, rendered
	Node    string         // node that asked for it
	Data    map[string]any // variables and slots at the time
}

// Notifier carries out notifications. It must be safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Knowledge answers FAQ questions mid-call; pkg/nlu's knowledge base plugs in. The default searches the script's
// FAQ entries by character bigrams.
type Knowledge interface {
	Answer(question string) (answer string, ok bool)
}

// Options are the understanding parts a conversation uses; every field is optional.
type Options struct {
	Classifier Classifier       // ranks intents; default: the script's keywords and patterns
	Sentiment  Sentiment        // scores utterances; default: nlu.Sentiment
	Extract    Extractor        // slot values; default: NLUExtract, then a basic digits/numerals/dates reader
	Knowledge  Knowledge        // FAQ answers; default: the script's FAQ entries
	LLM        LLM              // model for LLM nodes; nil: they speak their fallback
	Now        func() time.Time // clock for dates and callbacks; default time.Now
}

// Reply is what the bot does after a turn: speak Prompt, then listen (or end).
type Reply struct {
	Node      string         // node the conversation is at after the turn
	Path      []string       // nodes entered during the turn, in order
	Prompt    string         // text to speak; empty when nothing is said
	Speed     float64        // TTS speed: 1 normal, Settings.Slow for slow nodes
	Listen    Listen         // how to listen next, defaults filled in
	Intent    string         // intent recognised, "" when none
	Score     float64        // its score
	Slots     map[string]any // slots captured this turn
	Sentiment float64        // score of this utterance
	Mood      Mood           // mood after this utterance
	FAQ       bool           // the prompt answers a knowledge-base question
	Notify    []Notification // requests to send
	End       EndAction      // EndNone while the conversation continues
	Transfer  Transfer       // where an EndTransfer goes
	Done      bool           // the conversation is over after Prompt
	Streamed  bool           // Prompt was already handed out sentence by sentence (LLM nodes)
	LLMError  string         // the model failed and the fallback was spoken
	// ToolsRefused lists tool calls the guardrails refused (not allowed at the node, or an unknown slot).
	ToolsRefused []string
}

// Conversation runs a Script for one call, turn by turn, with no audio: the state machine Run and the
// Simulator drive. It is not safe for concurrent use.
type Conversation struct {
	s   *Script
	st  *State
	o   Options
	env map[string]any
}

const maxHops = 64

// Start begins a conversation at the script's start node with the contact record's variables; the Reply holds
// the opening prompt. A missing required variable or a value of the wrong type is an error wrapping
// ErrMissingVariable.
func Start(s *Script, callID string, vars map[string]any, o Options) (*Conversation, Reply, error) {
	if s == nil || !s.compiled {
		return nil, Reply{}, fmt.Errorf("%w: script not compiled (use Load or Compile)", ErrInvalidScript)
	}
	typed, err := s.bindVars(vars)
	if err != nil {
		return nil, Reply{}, err
	}
	c := &Conversation{s: s, o: o.withDefaults(s), st: &State{
		CallID: callID, Script: s.Name, Vars: typed, Slots: map[string]any{}, Mood: Calm,
	}}
	r := Reply{}
	c.enter(&r, s.Start)
	return c, r, nil
}

// Resume continues a conversation from a saved State (from a Store), possibly in another process.
func Resume(s *Script, st *State, o Options) (*Conversation, error) {
	if s == nil || !s.compiled {
		return nil, fmt.Errorf("%w: script not compiled", ErrInvalidScript)
	}
	if st == nil || s.Nodes[st.Node] == nil {
		return nil, fmt.Errorf("%w: resume at %q", ErrUnknownNode, nodeOf(st))
	}
	typed, err := s.bindVars(st.Vars)
	if err != nil {
		return nil, err
	}
	cp := *st
	cp.Vars = typed
	cp.Slots = map[string]any{}
	for k, v := range st.Slots {
		if sl := s.slotBy[k]; sl != nil {
			if nv, ok := normalizeSlot(sl.Kind, v); ok {
				cp.Slots[k] = nv
			}
		}
	}
	cp.Outcome.Tags = append([]string(nil), st.Outcome.Tags...)
	return &Conversation{s: s, st: &cp, o: o.withDefaults(s)}, nil
}

func nodeOf(st *State) string {
	if st == nil {
		return ""
	}
	return st.Node
}

func (o Options) withDefaults(s *Script) Options {
	if o.Sentiment == nil {
		o.Sentiment = nlu.Sentiment
	}
	if o.Extract == nil {
		o.Extract = NLUExtract
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Knowledge == nil && len(s.FAQ) > 0 {
		o.Knowledge = newFAQIndex(s)
	}
	return o
}

// CheckVars reports whether a contact record holds every variable the script requires, each convertible to its
// declared type, as Start requires: the error, wrapping ErrMissingVariable, names every missing (absent, nil or
// empty) and every ill-typed variable. Check contacts with it before dialing them.
func (s *Script) CheckVars(vars map[string]any) error {
	_, err := s.bindVars(vars)
	return err
}

func (s *Script) bindVars(in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(s.Variables))
	var missing, wrong []string
	for _, name := range sortedKeys(s.Variables) {
		def := s.Variables[name]
		v, ok := in[name]
		if !ok || v == nil || v == "" {
			if def.Required {
				missing = append(missing, name)
				continue
			}
			v = def.Default
			if v == nil {
				v = varTypes[def.Type]
			}
		}
		tv, err := convertVar(def.Type, v)
		if err != nil {
			typ := def.Type
			if typ == "" {
				typ = "string"
			}
			wrong = append(wrong, fmt.Sprintf("%s is not %s %s: %q", name, article(typ), typ, fmt.Sprint(v)))
			continue
		}
		out[name] = tv
	}
	if len(missing) > 0 || len(wrong) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, strings.Join(missing, ", "))
		}
		return nil, fmt.Errorf("%w: %s", ErrMissingVariable, strings.Join(append(parts, wrong...), "; "))
	}
	return out, nil
}

func article(typ string) string {
	if typ == "int" {
		return "an"
	}
	return "a"
}

// State returns the conversation's state (owned by the Conversation; copy it before changing it).
func (c *Conversation) State() *State { return c.st }

// Script returns the script the conversation runs.
func (c *Conversation) Script() *Script { return c.s }

// Done reports whether the conversation has ended.
func (c *Conversation) Done() bool { return c.st.Done }

// Step advances the conversation by one turn. After the conversation ends it returns ErrEnded.
func (c *Conversation) Step(ctx context.Context, in Input) (Reply, error) {
	return c.StepStream(ctx, in, nil)
}

// StepStream is Step that hands an LLM node's sentences to onSentence as the model completes them, so they can
// be spoken before the answer is complete; Reply.Streamed then says Prompt was already handed out.
func (c *Conversation) StepStream(ctx context.Context, in Input, onSentence func(string)) (Reply, error) {
	st := c.st
	if st.Done {
		return Reply{}, ErrEnded
	}
	st.Turn++
	r := Reply{Node: st.Node, Mood: st.Mood}
	n := c.s.Nodes[st.Node]
	switch in.Kind {
	case Hangup:
		c.addTags(TagHangup)
		st.Outcome.End, st.Outcome.Node, st.Done = EndCalleeHangup, st.Node, true
		r.Done, r.End = true, EndCalleeHangup
		return r, nil
	case NoInput:
		st.NoInput++
		st.Unresolved++
		switch {
		case st.Unresolved >= c.s.Settings.MaxUnresolved:
			c.toHuman(&r, "unresolved", TagUnresolved)
		case st.NoInput > c.s.Settings.MaxNoInput && n.NoInput != "":
			c.enter(&r, n.NoInput)
		case st.NoInput > c.s.Settings.MaxNoInput:
			c.finish(&r, c.global("goodbye"), EndHangup, TagNoResponse)
		default:
			c.reprompt(&r, c.global("no_input"))
		}
		return r, nil
	case Utterance, Keys:
	default:
		return r, fmt.Errorf("dialog: unknown input kind %d", in.Kind)
	}

	text := strings.TrimSpace(in.Text)
	if in.Kind == Utterance && text != "" {
		r.Sentiment = c.o.Sentiment(text)
		if in.Sentiment != nil {
			r.Sentiment = *in.Sentiment
		}
		st.Mood, st.MoodScore = moodOf(st.Mood, st.MoodScore, r.Sentiment)
		r.Mood = st.Mood
	}
	// Slots first, so routes can test what this very reply said. Keys fill digit slots.
	capText := text
	if in.Kind == Keys {
		capText = strings.TrimSuffix(in.Digits, "#")
	}
	if capText != "" {
		for _, name := range n.Capture {
			sl := c.s.slotBy[name]
			if in.Kind == Keys && sl.Kind != "digits" && sl.Kind != "number" {
				continue
			}
			if v, ok := extractSlot(sl, capText, c.o.Now(), c.o.Extract); ok {
				st.Slots[name] = v
				if r.Slots == nil {
					r.Slots = map[string]any{}
				}
				r.Slots[name] = v
			}
		}
	}
	if text != "" {
		r.Intent, r.Score = c.classify(ctx, n, text)
	}
	if st.Mood == Agitated && *c.s.Settings.HumanOnAgitated && !nodeRoutes(n, r.Intent) {
		c.toHuman(&r, "agitated", TagAgitated)
		return r, nil
	}
	if isGlobalIntent(r.Intent) && !nodeRoutes(n, r.Intent) {
		c.handleGlobal(&r, r.Intent, text)
		return r, nil
	}
	// A question the knowledge base knows well is answered before routes that merely share a keyword with it.
	if text != "" && c.o.Knowledge != nil && isQuestion(text) {
		if ans, ok := c.o.Knowledge.Answer(text); ok {
			r.FAQ = true
			c.reprompt(&r, c.render(nil, ans, c.envFor("", text, "")))
			return r, nil
		}
	}
	env := c.envFor(r.Intent, text, in.Digits)
	for i := range n.Routes {
		rt := &n.Routes[i]
		if rt.Intent != "" && rt.Intent != r.Intent {
			continue
		}
		if rt.DTMF != "" && rt.DTMF != in.Digits {
			continue
		}
		if rt.When != "" && !c.holds(rt.when, env) {
			continue
		}
		if rt.any && text == "" && in.Digits == "" {
			continue
		}
		c.take(&r, rt, env)
		return r, nil
	}
	if n.LLM != nil && (text != "" || in.Digits != "") {
		if text == "" {
			text = in.Digits
		}
		c.llmTurn(ctx, &r, n, text, onSentence)
		return r, nil
	}
	if text != "" && c.o.Knowledge != nil {
		if ans, ok := c.o.Knowledge.Answer(text); ok {
			r.FAQ = true
			c.reprompt(&r, c.render(nil, ans, env))
			return r, nil
		}
	}
	st.NoMatch++
	st.Unresolved++
	switch {
	case st.Unresolved >= c.s.Settings.MaxUnresolved:
		c.toHuman(&r, "unresolved", TagUnresolved)
	case st.NoMatch > c.s.Settings.MaxNoMatch && n.NoMatch != "":
		c.enter(&r, n.NoMatch)
	case st.NoMatch > c.s.Settings.MaxNoMatch:
		c.toHuman(&r, "unresolved", TagUnresolved)
	default:
		c.reprompt(&r, c.global("no_match"))
	}
	return r, nil
}

var questionWords = []string{"吗", "呢", "?", "？", "怎么", "哪", "什么", "多少", "几", "如何", "为什么", "how", "what", "where", "when", "why"}

func isQuestion(text string) bool {
	lower := strings.ToLower(text)
	for _, w := range questionWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func nodeRoutes(n *Node, intent string) bool {
	if intent == "" {
		return false
	}
	for _, r := range n.Routes {
		if r.Intent == intent {
			return true
		}
	}
	return false
}

// classify ranks the node's route intents, the global intents and the script's intents; the best one that is
// not negated (by the keyword matcher or by nlu's negation analysis) wins. When none matches, the default intents
// of nlu.CommonIntents that the script does not define are ranked the same way.
func (c *Conversation) classify(ctx context.Context, n *Node, text string) (string, float64) {
	if c.o.Classifier != nil {
		names := make([]string, 0, len(c.s.Intents)+len(globalIntents))
		for _, g := range globalIntents {
			names = append(names, g.Name)
		}
		for _, in := range c.s.Intents {
			names = append(names, in.Name)
		}
		if ms, err := c.o.Classifier.Classify(ctx, text, names); err == nil {
			for _, m := range ms {
				if !m.Negated && m.Intent != "" {
					return m.Intent, m.Score
				}
			}
		}
	}
	lower := strings.ToLower(text)
	best := Match{}
	var negated map[string]bool // nlu's negation analysis, run once a script intent matches
	analysed := false
	isNegated := func(name string) bool {
		if !analysed {
			negated, analysed = c.s.negatedIntents(text), true
		}
		return negated[name]
	}
	consider := func(in *Intent, bonus float64) {
		if m, ok := keywordMatch(in, text, lower); ok && !m.Negated && m.Score+bonus > best.Score && !isNegated(in.Name) {
			best = m
			best.Score += bonus
		}
	}
	// Intents the node routes on get a small bonus: they are what the prompt asked for.
	for i := range c.s.Intents {
		bonus := 0.0
		if nodeRoutes(n, c.s.Intents[i].Name) {
			bonus = 0.05
		}
		consider(&c.s.Intents[i], bonus)
	}
	for i := range globalIntents {
		consider(&globalIntents[i], 0.06) // a request for a human outranks an incidental keyword
	}
	if best.Intent == "" {
		// Nothing the script (or the built-in globals) knows: the default intents, under the script's own.
		return c.classifyCommon(ctx, text)
	}
	if best.Score > 1 {
		best.Score = 1
	}
	return best.Intent, best.Score
}

func (c *Conversation) handleGlobal(r *Reply, intent, text string) {
	switch intent {
	case IntentHuman:
		c.toHuman(r, "requested")
	case IntentOptOut:
		c.st.Outcome.OptOut = true
		c.finish(r, c.global("opt_out"), EndHangup, TagOptOut)
	case IntentRepeat:
		r.Prompt = c.st.LastPrompt
		r.Listen = c.listenOf(c.s.Nodes[c.st.Node])
		r.Speed = c.speedOf(c.s.Nodes[c.st.Node])
	case IntentWrongPerson:
		c.finish(r, c.global("wrong_person"), EndHangup, TagWrongPerson)
	case IntentBusy:
		c.st.Outcome.CallbackAt = c.callbackTime(text)
		c.finish(r, c.global("busy"), EndHangup, TagCallback)
	}
}

// callbackTime is the time the callee named ("明天下午三点"), else now + Settings.CallbackAfter.
func (c *Conversation) callbackTime(text string) time.Time {
	now := c.o.Now()
	ref := now
	named := false
	if v, ok := basicExtract(text, "date", now); ok {
		if d, err := time.ParseInLocation("2006-01-02", v.(string), now.Location()); err == nil {
			ref = time.Date(d.Year(), d.Month(), d.Day(), now.Hour(), now.Minute(), 0, 0, now.Location())
			named = true
		}
	}
	if v, ok := basicExtract(text, "time", now); ok {
		if t, err := time.Parse("15:04", v.(string)); err == nil {
			ref = time.Date(ref.Year(), ref.Month(), ref.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
			if ref.Before(now) {
				ref = ref.AddDate(0, 0, 1)
			}
			named = true
		}
	}
	if named && ref.After(now) {
		return ref
	}
	return now.Add(time.Duration(c.s.Settings.CallbackAfter))
}

func (c *Conversation) toHuman(r *Reply, reason string, tags ...string) {
	if e := c.s.Settings.Escalate; e != "" && reason != "requested" {
		c.addTags(tags...)
		c.enter(r, e)
		if c.st.Outcome.TransferReason == "" {
			c.st.Outcome.TransferReason = reason
		}
		return
	}
	c.st.Outcome.TransferReason = reason
	c.finish(r, c.global("human"), EndTransfer, append(tags, TagHuman)...)
	r.Transfer = c.s.Settings.Transfer
}

func (c *Conversation) finish(r *Reply, prompt string, end EndAction, tags ...string) {
	st := c.st
	c.addTags(tags...)
	c.say(r, prompt)
	st.Outcome.End, st.Outcome.Node, st.Done = end, st.Node, true
	r.End, r.Done, r.Node = end, true, st.Node
	if end == EndTransfer {
		r.Transfer = c.s.Settings.Transfer
	}
}

func (c *Conversation) addTags(tags ...string) {
	for _, t := range tags {
		if !c.st.Outcome.Has(t) {
			c.st.Outcome.Tags = append(c.st.Outcome.Tags, t)
		}
	}
}

func (c *Conversation) say(r *Reply, text string) {
	if text == "" {
		return
	}
	if r.Prompt != "" {
		r.Prompt += " "
	}
	r.Prompt += text
	c.st.LastPrompt = r.Prompt
}

// reprompt speaks prefix and the node's next re-prompt variant, staying at the node.
func (c *Conversation) reprompt(r *Reply, prefix string) {
	n := c.s.Nodes[c.st.Node]
	c.say(r, prefix)
	c.st.Variant++
	vs := n.reprompt
	if c.st.Mood != Calm && len(n.Soft) > 0 {
		vs = n.soft
	}
	if len(vs) > 0 {
		c.say(r, c.render(vs[(c.st.Variant-1)%len(vs)], "", c.envFor("", "", "")))
	}
	r.Node, r.Listen, r.Speed = n.id, c.listenOf(n), c.speedOf(n)
}

func (c *Conversation) take(r *Reply, rt *Route, env map[string]any) {
	c.addTags(rt.Tags...)
	for _, k := range sortedKeys(rt.set) {
		if v, err := expr.Run(rt.set[k], env); err == nil {
			if nv, ok := normalizeSlot(c.s.slotBy[k].Kind, v); ok {
				c.st.Slots[k] = nv
			}
		}
	}
	c.enter(r, rt.Goto)
}

// enter moves to node id, passing through decision nodes, speaks its prompt and applies its end.
func (c *Conversation) enter(r *Reply, id string) {
	st := c.st
	for hop := 0; ; hop++ {
		n := c.s.Nodes[id]
		if st.Node != id {
			st.LLMTurns, st.LLMHistory = 0, nil
		}
		st.Node, st.NoInput, st.NoMatch, st.Variant = id, 0, 0, 0
		r.Node = id
		r.Path = append(r.Path, id)
		if len(n.Say) > 0 || n.End != nil || n.LLM != nil || hop >= maxHops {
			break
		}
		env := c.envFor("", "", "")
		next := ""
		for i := range n.Routes {
			if rt := &n.Routes[i]; rt.When == "" || c.holds(rt.when, env) {
				c.addTags(rt.Tags...)
				next = rt.Goto
				break
			}
		}
		if next == "" {
			break // unreachable for a compiled script: decision nodes end with a fallback route
		}
		id = next
	}
	n := c.s.Nodes[st.Node]
	env := c.envFor("", "", "")
	vs := n.say
	if st.Mood != Calm && len(n.Soft) > 0 {
		vs = n.soft
	}
	if len(vs) > 0 {
		c.say(r, c.render(vs[0], "", env))
	}
	r.Listen, r.Speed = c.listenOf(n), c.speedOf(n)
	if e := n.End; e != nil {
		c.addTags(e.Tags...)
		for i := range e.Notify {
			nt := &e.Notify[i]
			r.Notify = append(r.Notify, Notification{
				CallID: st.CallID, Channel: nt.Channel, Node: n.id,
				To: c.render(nt.to, "", env), Text: c.render(nt.text, "", env), Data: c.data(),
			})
		}
		end := EndHangup
		if e.Action == "transfer" {
			end = EndTransfer
			st.Outcome.TransferReason = e.Reason
			c.addTags(TagHuman)
			r.Transfer = c.s.Settings.Transfer
		}
		st.Outcome.End, st.Outcome.Node, st.Done = end, n.id, true
		r.End, r.Done = end, true
	}
}

func (c *Conversation) data() map[string]any {
	d := make(map[string]any, len(c.st.Vars)+len(c.st.Slots))
	for k, v := range c.st.Vars {
		d[k] = v
	}
	for k, v := range c.st.Slots {
		d[k] = v
	}
	return d
}

func (c *Conversation) envFor(intent, text, dtmf string) map[string]any {
	env := c.env
	if env == nil {
		env = make(map[string]any, len(c.s.env))
		c.env = env
	}
	for k, v := range c.s.env {
		env[k] = v
	}
	for k, v := range c.st.Vars {
		env[k] = v
	}
	has := make(map[string]bool, len(c.st.Slots))
	for k, v := range c.st.Slots {
		env[k] = v
		has[k] = true
	}
	env["has"], env["intent"], env["text"], env["dtmf"] = has, intent, text, dtmf
	env["mood"], env["turn"] = string(c.st.Mood), c.st.Turn
	return env
}

func (c *Conversation) holds(p *vm.Program, env map[string]any) bool {
	if p == nil {
		return true
	}
	v, err := expr.Run(p, env)
	b, ok := v.(bool)
	return err == nil && ok && b
}

// render executes t (or parses src when t is nil) on env; a failure yields the raw source rather than nothing.
func (c *Conversation) render(t *template.Template, src string, env map[string]any) string {
	if t == nil {
		if src == "" {
			return ""
		}
		var err error
		if t, err = template.New("").Option("missingkey=zero").Funcs(templateFuncs).Parse(src); err != nil {
			return src
		}
	}
	var b strings.Builder
	if err := t.Execute(&b, env); err != nil {
		return src
	}
	return b.String()
}

func (c *Conversation) listenOf(n *Node) Listen {
	l := n.Listen
	if l.Timeout == 0 {
		l.Timeout = Duration(6 * time.Second)
	}
	if l.MaxUtterance == 0 {
		l.MaxUtterance = Duration(20 * time.Second)
	}
	if l.BargeIn == nil {
		t := true
		l.BargeIn = &t
	}
	if l.DTMFMax == 0 {
		l.DTMFMax = 1
	}
	return l
}

func (c *Conversation) speedOf(n *Node) float64 {
	if n.Slow {
		return c.s.Settings.Slow
	}
	if v, ok := c.st.Vars["slow"].(bool); ok && v {
		return c.s.Settings.Slow
	}
	return 1
}

var defaultGlobals = map[string][2]string{
	"human":        {"好的,正在为您转接人工客服,请稍候。", "Sure, I'm transferring you to an agent now. Please hold."},
	"opt_out":      {"好的,我们以后不会再打扰您,祝您生活愉快,再见。", "Understood, we won't call you again. Goodbye."},
	"wrong_person": {"抱歉打扰您了,再见。", "Sorry to have bothered you. Goodbye."},
	"busy":         {"好的,那我们稍后再联系您,再见。", "No problem, we'll call you back later. Goodbye."},
	"no_input":     {"您好,您还在听吗?", "Hello, are you still there?"},
	"no_match":     {"抱歉,我没有听明白。", "Sorry, I didn't catch that."},
	"goodbye":      {"那先不打扰您了,再见。", "I'll let you go now. Goodbye."},
}

func (c *Conversation) global(name string) string {
	g := c.s.Globals
	v := map[string]string{
		"human": g.Human, "opt_out": g.OptOut, "wrong_person": g.WrongPerson, "busy": g.Busy,
		"no_input": g.NoInput, "no_match": g.NoMatch, "goodbye": g.Goodbye,
	}[name]
	if v != "" {
		return c.render(nil, v, c.envFor("", "", ""))
	}
	d := defaultGlobals[name]
	if c.s.Language == "en" {
		return d[1]
	}
	return d[0]
}
