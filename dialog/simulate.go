package dialog

import (
	"context"
	"fmt"
)

// Simulator runs a script on text, for script unit tests and the terminal chat: feed the callee's inputs, then
// assert the path, prompts, slots, notifications and outcome.
type Simulator struct {
	conv    *Conversation
	replies []Reply
	notes   []Notification
}

// NewSimulator starts a conversation for callID "sim" with the contact record vars; the opening prompt is
// Replies()[0]. Dates the callee says ("明天", "下周五") are read against o.Now, time.Now by default: give a fixed
// clock to make a test's dates reproducible.
func NewSimulator(s *Script, vars map[string]any, o Options) (*Simulator, error) {
	c, r, err := Start(s, "sim", vars, o)
	if err != nil {
		return nil, err
	}
	sim := &Simulator{conv: c}
	sim.record(r)
	return sim, nil
}

// Simulate starts a conversation (NewSimulator with default Options: dates against time.Now) and feeds it inputs
// until they run out or the conversation ends.
func Simulate(s *Script, vars map[string]any, inputs ...Input) (*Simulator, error) {
	sim, err := NewSimulator(s, vars, Options{})
	if err != nil {
		return nil, err
	}
	for i, in := range inputs {
		if sim.Done() {
			return sim, fmt.Errorf("%w: %d input(s) left over at node %q", ErrEnded, len(inputs)-i, sim.conv.st.Node)
		}
		if _, err := sim.Step(in); err != nil {
			return sim, err
		}
	}
	return sim, nil
}

// Step feeds one input.
func (s *Simulator) Step(in Input) (Reply, error) {
	r, err := s.conv.Step(context.Background(), in)
	if err != nil {
		return r, err
	}
	s.record(r)
	return r, nil
}

// Say feeds an utterance; a conversation that already ended yields an empty Reply.
func (s *Simulator) Say(text string) Reply {
	r, _ := s.Step(Say(text))
	return r
}

func (s *Simulator) record(r Reply) {
	s.replies = append(s.replies, r)
	s.notes = append(s.notes, r.Notify...)
}

// Conversation returns the running conversation.
func (s *Simulator) Conversation() *Conversation { return s.conv }

// Replies returns every reply, the opening first.
func (s *Simulator) Replies() []Reply { return s.replies }

// Last returns the latest reply.
func (s *Simulator) Last() Reply { return s.replies[len(s.replies)-1] }

// Path returns every node entered, in order, the start node first.
func (s *Simulator) Path() []string {
	var p []string
	for _, r := range s.replies {
		p = append(p, r.Path...)
	}
	return p
}

// Prompts returns every prompt spoken, in order.
func (s *Simulator) Prompts() []string {
	var p []string
	for _, r := range s.replies {
		if r.Prompt != "" {
			p = append(p, r.Prompt)
		}
	}
	return p
}

// Slots returns the slots captured so far.
func (s *Simulator) Slots() map[string]any { return s.conv.st.Slots }

// Notifications returns every notification requested.
func (s *Simulator) Notifications() []Notification { return s.notes }

// Outcome returns the conversation's outcome so far.
func (s *Simulator) Outcome() Outcome { return s.conv.st.Outcome }

// Done reports whether the conversation has ended.
func (s *Simulator) Done() bool { return s.conv.st.Done }
