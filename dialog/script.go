package dialog

import (
	"fmt"
	"regexp"
	"text/template"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/outcall/outcall/pkg/nlu"
	"gopkg.in/yaml.v3"
)

// Script is a call script (话术): variables taken from the contact record, nodes that speak and listen, intents,
// slots, transitions and end actions. Build one with Load / LoadFile (YAML) or in Go and call Compile. A compiled
// Script is immutable and shared by every call that runs it.
type Script struct {
	Name      string              `yaml:"name"`      // script name, for logs and journals
	Language  string              `yaml:"language"`  // "zh" or "en"; default "zh"
	Start     string              `yaml:"start"`     // id of the first node; required
	Variables map[string]Variable `yaml:"variables"` // contact-record fields the script reads, by name
	Settings  Settings            `yaml:"settings"`  // thresholds and global behaviour
	Globals   Globals             `yaml:"globals"`   // prompts of the global handlers; defaults in the script language
	Intents   []Intent            `yaml:"intents"`   // script-defined intents (global intents are built in)
	Slots     []Slot              `yaml:"slots"`     // values the script captures from what the callee says
	FAQ       []FAQ               `yaml:"faq"`       // knowledge base answered mid-call, then the node resumes
	Nodes     map[string]*Node    `yaml:"nodes"`     // the script's nodes by id

	file     string
	compiled bool
	intentBy map[string]*Intent
	slotBy   map[string]*Slot
	und      *nlu.Matcher               // the script's intents and the global ones, compiled for pkg/nlu
	common   *nlu.Matcher               // the built-in answers (yes, no, not interested, who is this): the fallback
	means    map[string]map[string]bool // script intent → the built-in answers its keywords are
	kb       *nlu.KnowledgeBase         // the FAQ entries, the default Knowledge
	env      map[string]any             // typed zero values: the expression and template environment used for checks
}

// Variable declares one contact-record field.
type Variable struct {
	Type     string `yaml:"type"`     // "string", "int", "float" or "bool"; default "string"
	Required bool   `yaml:"required"` // Start fails when the contact record lacks it
	Default  any    `yaml:"default"`  // value used when the record lacks it and it is not required
}

// Settings are a script's thresholds.
type Settings struct {
	MaxUnresolved   int      `yaml:"max_unresolved"`    // unresolved turns (no-match, no-input) before a human; default 3
	MaxNoInput      int      `yaml:"max_noinput"`       // silent turns in one node before escalation; default 2
	MaxNoMatch      int      `yaml:"max_nomatch"`       // unmatched turns in one node before escalation; default 2
	HumanOnAgitated *bool    `yaml:"human_on_agitated"` // an agitated caller goes to a human; default true
	CallbackAfter   Duration `yaml:"callback_after"`    // retry delay when the callee is busy and names no time; default 2h
	Transfer        Transfer `yaml:"transfer"`          // where "human" transfers go; empty: the campaign decides
	Slow            float64  `yaml:"slow_speed"`        // TTS speed when a node or variable asks for slow speech; default 0.85
	// Escalate is the node entered for built-in escalations (agitated caller, too many unresolved turns) instead
	// of the built-in transfer, e.g. to send a risk alert; it must end the call. Default: built-in transfer.
	Escalate string `yaml:"escalate"`
}

// Transfer names where a transfer to a human goes; it maps onto call.Target.
type Transfer struct {
	Endpoint  string `yaml:"endpoint"`  // dial string of an agent or queue
	Context   string `yaml:"context"`   // dialplan context, when Endpoint is empty
	Extension string `yaml:"extension"` // dialplan extension
}

// Globals are the prompts the built-in global handlers speak. Empty fields take defaults in the script language.
type Globals struct {
	Human       string `yaml:"human"`        // before a transfer to a human
	OptOut      string `yaml:"opt_out"`      // before hanging up on "stop calling"
	WrongPerson string `yaml:"wrong_person"` // before hanging up on "wrong number"
	Busy        string `yaml:"busy"`         // before hanging up on "I'm busy, call later"
	NoInput     string `yaml:"no_input"`     // prefix of a re-prompt after silence
	NoMatch     string `yaml:"no_match"`     // prefix of a re-prompt after an unmatched reply
	Goodbye     string `yaml:"goodbye"`      // when escalation ends the call without a human
	// WhoIsThis answers "who is calling?" (你们是哪里?) with the caller's identity; the node's re-prompt follows.
	WhoIsThis string `yaml:"who_is_this"`
}

// Intent is a script-defined intent: keywords (substring match) and regular expressions.
type Intent struct {
	Name     string   `yaml:"name"`     // referenced by transitions
	Keywords []string `yaml:"keywords"` // substrings; a negation just before one (不, 没, not) does not match
	Patterns []string `yaml:"patterns"` // Go regular expressions
}

// Slot is a value captured from the callee's words.
type Slot struct {
	Name    string              `yaml:"name"`    // referenced by nodes' capture lists, expressions and templates
	Kind    string              `yaml:"kind"`    // number, amount, date, time, yesno, digits, enum, text; default text
	Pattern string              `yaml:"pattern"` // optional regexp; its first group (or whole match) is the raw value
	Values  map[string][]string `yaml:"values"`  // enum: value → keywords that select it
	// Sensitive marks a value that proves who the callee is (the tail of an id number, a PIN): programs print it
	// masked, as they print key presses.
	Sensitive bool `yaml:"sensitive"`

	re *regexp.Regexp
}

// FAQ is one knowledge-base entry.
type FAQ struct {
	Questions []string `yaml:"q"` // ways a callee asks it
	Answer    string   `yaml:"a"` // what the bot says (a template)

	tmpl *template.Template
}

// Node is one step of the script. A node with prompts speaks them; with Routes it then listens and moves on by
// the first route that matches; with End it ends the call after speaking. A node without prompts is a decision
// node: its routes are checked at once on variables and slots, and the first one that holds is taken.
type Node struct {
	Say      []string `yaml:"say"`      // prompt variants (text/template); a re-prompt uses the next variant
	Soft     []string `yaml:"soft"`     // softer variants for an upset caller; default: Say
	Reprompt []string `yaml:"reprompt"` // variants for re-prompts after silence or no match; default: Say
	Listen   Listen   `yaml:"listen"`   // how to listen after speaking
	Capture  []string `yaml:"capture"`  // slots to extract from every reply at this node
	Routes   []Route  `yaml:"routes"`   // transitions, first match wins
	NoInput  string   `yaml:"noinput"`  // node to go to once silence exceeds Settings.MaxNoInput; default escalate
	NoMatch  string   `yaml:"nomatch"`  // node to go to once no-match exceeds Settings.MaxNoMatch; default escalate
	End      *End     `yaml:"end"`      // end the call after speaking
	Slow     bool     `yaml:"slow"`     // speak this node slowly (Settings.Slow)
	LLM      *LLMNode `yaml:"llm"`      // converse through a language model when no route matches
	// Confirm reads back what the node's side effects quote (an amount, a date) before them: the node's prompt,
	// end and notifications happen only on a yes. A node whose notifications quote an amount, number, date or
	// time slot must have one.
	Confirm *Confirm `yaml:"confirm"`

	id       string
	say      []*template.Template
	soft     []*template.Template
	reprompt []*template.Template
}

// Confirm is a read-back before a node's side effects.
type Confirm struct {
	Say   string   `yaml:"say"`   // the read-back question (template): "您是{{.pay_date}}还{{money .pay_amount}}元,对吗?"
	Slots []string `yaml:"slots"` // slots the callee may correct in the reply (不对,是后天): read back again
	No    string   `yaml:"no"`    // node to go to on a no (the read-back slots are cleared); required

	say *template.Template
}

// Listen says how a node listens for the reply.
type Listen struct {
	Timeout      Duration `yaml:"timeout"`       // silence before a no-input turn; default 6s
	MaxUtterance Duration `yaml:"max_utterance"` // longest reply before it is cut; default 20s
	BargeIn      *bool    `yaml:"barge_in"`      // the callee may interrupt the prompt; default true
	DTMF         bool     `yaml:"dtmf"`          // key presses are accepted as replies
	DTMFMax      int      `yaml:"dtmf_max"`      // digits that complete a DTMF reply; default 1 ("#" ends early)
}

// Route is a transition. Intent, DTMF and When must all hold when set; a route with none of them matches any
// reply (and, on a decision node, always).
type Route struct {
	Intent string            `yaml:"intent"` // intent name (script-defined or global)
	DTMF   string            `yaml:"dtmf"`   // keys pressed, e.g. "1"
	When   string            `yaml:"when"`   // expr-lang condition on variables, slots, intent, text, mood
	Goto   string            `yaml:"goto"`   // next node
	Tags   []string          `yaml:"tags"`   // outcome tags added when taken
	Set    map[string]string `yaml:"set"`    // slots set from expressions when taken

	when *vm.Program
	set  map[string]*vm.Program
	any  bool
}

// End is what happens at the end of a node that ends the call.
type End struct {
	Action string   `yaml:"action"` // hangup (default) or transfer
	Reason string   `yaml:"reason"` // transfer reason, for the agent's screen and the report
	Tags   []string `yaml:"tags"`   // outcome tags
	Notify []Notify `yaml:"notify"` // requests sent through the Notifier
}

// Notify is a request the Notifier carries out: an SMS, a webhook, an alert.
type Notify struct {
	Channel string `yaml:"channel"` // "sms", "webhook", "alert", ...; the Notifier decides what each means
	To      string `yaml:"to"`      // recipient (template); empty: the Notifier's default
	Text    string `yaml:"text"`    // message (template)

	to, text *template.Template
}

// Duration is a time.Duration written as "5s" or "1m30s" in YAML.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: bad duration %q: %w", n.Line, s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ID returns the node's id.
func (n *Node) ID() string { return n.id }

// Node returns the node with the given id, or nil.
func (s *Script) Node(id string) *Node { return s.Nodes[id] }

// Source returns the file the script was loaded from ("" for a script built in Go).
func (s *Script) Source() string { return s.file }
