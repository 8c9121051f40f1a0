package dialog

import (
	"context"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/outcall/outcall/pkg/nlu"
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
	Confirm    string         `json:"confirm,omitempty"`     // node whose read-back awaits a yes (Node.Confirm)
	Confirmed  string         `json:"confirmed,omitempty"`   // node whose read-back the callee confirmed
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

// Knowledge answers FAQ questions mid-call; *nlu.KnowledgeBase implements it, and is the default on the script's
// FAQ entries.
type Knowledge interface {
	Answer(question string) (answer string, ok bool)
}

// Options are the understanding parts a conversation uses; every field is optional.
type Options struct {
	Classifier Classifier // ranks intents; default: the script's keywords and patterns
	// Unsure is asked, within UnsureTimeout, only when the rules are unsure (no hit, or a score under
	// UnsureBelow); e.g. an *nlu.LLMClassifier. Its error, timeout or "none" leaves the rules' answer; it never
	// names an opt-out (a do-not-call entry needs the callee's words) and never gives a slot value. default: none
	Unsure        Classifier
	UnsureBelow   float64          // default 0.6
	UnsureTimeout time.Duration    // default 1.5 s
	Sentiment     Sentiment        // scores utterances; default: nlu.Sentiment
	Knowledge     Knowledge        // FAQ answers; default: the script's FAQ entries in an nlu.KnowledgeBase
	LLM           LLM              // model for LLM nodes; nil: they speak their fallback
	Now           func() time.Time // clock for dates and callbacks; default time.Now
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Knowledge == nil && s.kb != nil {
		o.Knowledge = s.kb
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
//
// A reply is understood in this order of precedence (the first that applies decides the turn):
//  1. opt-out (别再打了, "stop calling"): always recorded — TagOptOut and Outcome.OptOut, so the campaign adds a
//     do-not-call entry — even when the caller is also escalated for anger or the node routes it;
//  2. an agitated caller goes to a human (Settings.HumanOnAgitated) unless the node routes the intent;
//  3. global intents the node does not route: human, opt-out (ends politely), repeat (the last prompt again),
//     wrong person (ends politely), busy (schedules a callback, at the time named if any), who-is-this
//     (Globals.WhoIsThis, then the node's re-prompt);
//  4. a question the knowledge base answers: the answer, then the node's re-prompt (the conversation stays);
//  5. a pending read-back (Node.Confirm): a yes carries out the node, a no goes to Confirm.No, a correction is
//     read back again;
//  6. the node's routes, first match wins;
//  7. the node's LLM, then the knowledge base for a statement, then no-match handling.
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
		c.silence(&r, n)
		return r, nil
	case Utterance, Keys:
	default:
		return r, fmt.Errorf("dialog: unknown input kind %d", in.Kind)
	}
	text := strings.TrimSpace(in.Text)
	c.hear(ctx, &r, n, in, text)
	if c.precedes(&r, n, text) || c.route(&r, n, text, in.Digits) {
		return r, nil
	}
	if n.LLM != nil && (text != "" || in.Digits != "") {
		if text == "" {
			text = in.Digits
		}
		c.llmTurn(ctx, &r, n, text, onSentence)
		return r, nil
	}
	if text != "" && c.answer(&r, text) {
		return r, nil
	}
	c.noMatch(&r, n)
	return r, nil
}

// silence handles a turn without input: a re-prompt, the node's noinput node, a goodbye or a human.
func (c *Conversation) silence(r *Reply, n *Node) {
	st := c.st
	st.NoInput++
	st.Unresolved++
	switch {
	case st.Unresolved >= c.s.Settings.MaxUnresolved:
		c.toHuman(r, "unresolved", TagUnresolved)
	case st.NoInput > c.s.Settings.MaxNoInput && n.NoInput != "":
		c.enter(r, n.NoInput)
	case st.NoInput > c.s.Settings.MaxNoInput:
		c.finish(r, c.global("goodbye"), EndHangup, TagNoResponse)
	default:
		c.reprompt(r, c.global("no_input"))
	}
}

// hear scores the reply's sentiment, names its intent and captures the node's slots (so routes can test what this
// very reply said; keys fill digit slots) unless the reply is a global request the node does not route.
func (c *Conversation) hear(ctx context.Context, r *Reply, n *Node, in Input, text string) {
	st := c.st
	if in.Kind == Utterance && text != "" {
		r.Sentiment = c.o.Sentiment(text)
		if in.Sentiment != nil {
			r.Sentiment = *in.Sentiment
		}
		st.Mood, st.MoodScore = moodOf(st.Mood, st.MoodScore, r.Sentiment)
		r.Mood = st.Mood
	}
	if text != "" {
		r.Intent, r.Score = c.classify(ctx, n, text)
	}
	if isGlobalIntent(r.Intent) && !nodeRoutes(n, r.Intent) {
		return // "明天再打吧" asks for a callback: its date is no answer to the node
	}
	capText, capture := text, n.Capture
	if in.Kind == Keys {
		capText = strings.TrimSuffix(in.Digits, "#")
	}
	if st.Confirm != "" && n.Confirm != nil {
		capture = n.Confirm.Slots
	}
	if capText == "" {
		return
	}
	for _, name := range capture {
		sl := c.s.slotBy[name]
		if in.Kind == Keys && sl.Kind != "digits" && sl.Kind != "number" {
			continue
		}
		if v, ok := extractSlot(sl, capText, c.o.Now()); ok {
			st.Slots[name] = v
			if r.Slots == nil {
				r.Slots = map[string]any{}
			}
			r.Slots[name] = v
		}
	}
}

// precedes applies steps 1-5 of StepStream's order; it reports whether one decided the turn.
func (c *Conversation) precedes(r *Reply, n *Node, text string) bool {
	routed := nodeRoutes(n, r.Intent)
	if r.Intent == IntentOptOut {
		c.st.Outcome.OptOut = true
		c.addTags(TagOptOut)
	}
	switch {
	case c.st.Mood == Agitated && *c.s.Settings.HumanOnAgitated && !routed:
		c.toHuman(r, "agitated", TagAgitated)
	case isGlobalIntent(r.Intent) && !routed:
		c.handleGlobal(r, r.Intent, text)
	case text != "" && nlu.IsQuestion(text) && c.answer(r, text):
	case c.st.Confirm != "" && n.Confirm != nil:
		c.confirmTurn(r, n, text)
	default:
		return false
	}
	return true
}

// route takes the first of the node's routes that matches the reply.
func (c *Conversation) route(r *Reply, n *Node, text, digits string) bool {
	env := c.envFor(r.Intent, text, digits)
	for i := range n.Routes {
		rt := &n.Routes[i]
		if rt.Intent != "" && rt.Intent != r.Intent {
			continue
		}
		if rt.DTMF != "" && rt.DTMF != digits {
			continue
		}
		if rt.When != "" && !c.holds(rt.when, env) {
			continue
		}
		if rt.any && text == "" && digits == "" {
			continue
		}
		c.take(r, rt, env)
		return true
	}
	return false
}

// answer speaks the knowledge base's answer to text, if it has one, and stays at the node.
func (c *Conversation) answer(r *Reply, text string) bool {
	if c.o.Knowledge == nil {
		return false
	}
	ans, ok := c.o.Knowledge.Answer(text)
	if !ok {
		return false
	}
	r.FAQ = true
	c.reprompt(r, c.render(nil, ans, c.envFor("", text, "")))
	return true
}

// noMatch handles a reply nothing understood: a re-prompt, the node's nomatch node, or a human.
func (c *Conversation) noMatch(r *Reply, n *Node) {
	st := c.st
	st.NoMatch++
	st.Unresolved++
	switch {
	case st.Unresolved >= c.s.Settings.MaxUnresolved:
		c.toHuman(r, "unresolved", TagUnresolved)
	case st.NoMatch > c.s.Settings.MaxNoMatch && n.NoMatch != "":
		c.enter(r, n.NoMatch)
	case st.NoMatch > c.s.Settings.MaxNoMatch:
		c.toHuman(r, "unresolved", TagUnresolved)
	default:
		c.reprompt(r, c.global("no_match"))
	}
}

// confirmTurn handles the reply to a read-back: a correction is read back again (or, when Confirm.No is a
// decision node, decided again there), a yes carries out the node, a no clears the read-back slots and goes to Confirm.No; anything else asks again, and after Settings.MaxNoMatch
// such replies counts as a no.
func (c *Conversation) confirmTurn(r *Reply, n *Node, text string) {
	st, cf := c.st, n.Confirm
	for _, name := range cf.Slots {
		if _, ok := r.Slots[name]; !ok {
			continue
		}
		if no := c.s.Nodes[cf.No]; len(no.Say) == 0 && no.LLM == nil {
			st.Confirm = ""
			c.enter(r, cf.No) // a decision node decides again on the corrected values
			return
		}
		c.say(r, c.render(cf.say, "", c.envFor("", "", "")))
		r.Listen, r.Speed = c.listenOf(n), c.speedOf(n)
		return
	}
	yes, no := c.yesNo(text)
	switch {
	case yes:
		st.Confirm, st.Confirmed = "", n.id
		c.enter(r, n.id)
		r.Path = nil // entered at the read-back already
	case no || st.NoMatch >= c.s.Settings.MaxNoMatch:
		st.Confirm = ""
		for _, name := range cf.Slots {
			delete(st.Slots, name)
		}
		c.enter(r, cf.No)
	default:
		st.NoMatch++
		c.reprompt(r, c.global("no_match"))
	}
}

// yesNo reads a reply to a yes/no question with nlu's yes/no reading (好的, 对, 没错 / 不对, 不是), whatever
// script intent the reply also matched.
func (c *Conversation) yesNo(text string) (yes, no bool) {
	v, ok := nlu.Extract(text, nlu.KindYesNo, c.o.Now())
	return ok && v.Bool, ok && !v.Bool
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

func (c *Conversation) handleGlobal(r *Reply, intent, text string) {
	switch intent {
	case IntentHuman:
		c.toHuman(r, "requested")
	case IntentOptOut:
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
	case IntentWhoIsThis:
		c.reprompt(r, c.global("who_is_this"))
	}
}

// callbackTime is the time the callee named ("明天下午三点"), else now + Settings.CallbackAfter.
func (c *Conversation) callbackTime(text string) time.Time {
	now := c.o.Now()
	ref, named := now, false
	if v, ok := nlu.Extract(text, nlu.KindDate, now); ok {
		ref = time.Date(v.Time.Year(), v.Time.Month(), v.Time.Day(), now.Hour(), now.Minute(), 0, 0, now.Location())
		named = true
	}
	if v, ok := nlu.Extract(text, nlu.KindTime, ref); ok {
		ref = time.Date(ref.Year(), ref.Month(), ref.Day(), v.Time.Hour(), v.Time.Minute(), 0, 0, now.Location())
		if ref.Before(now) {
			ref = ref.AddDate(0, 0, 1)
		}
		named = true
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
	if c.st.Confirm == n.id && n.Confirm != nil {
		vs = []*template.Template{n.Confirm.say}
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
	if n.Confirm != nil && st.Confirmed != n.id {
		st.Confirm = n.id // read back first; the prompt, end and notifications wait for a yes
		c.say(r, c.render(n.Confirm.say, "", env))
		r.Listen, r.Speed = c.listenOf(n), c.speedOf(n)
		return
	}
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
	"who_is_this":  {"我是客服中心的智能语音助理,今天来电是有事情需要跟您确认。", "I'm the customer service centre's voice assistant, calling about something we need to check with you."},
	"goodbye":      {"那先不打扰您了,再见。", "I'll let you go now. Goodbye."},
}

func (c *Conversation) global(name string) string {
	g := c.s.Globals
	v := map[string]string{
		"human": g.Human, "opt_out": g.OptOut, "wrong_person": g.WrongPerson, "busy": g.Busy,
		"no_input": g.NoInput, "no_match": g.NoMatch, "goodbye": g.Goodbye, "who_is_this": g.WhoIsThis,
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
