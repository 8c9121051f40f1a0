package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/tts/ttstest"
)

// The simulator runs in its own process so that the controller's CPU and memory are measured alone. It talks to
// the controller over its stdin and stdout, one JSON value per line: first a simHello, then one answer per
// command ("usage" → simUsage, "calls" → []simCall). It exits when stdin closes.

// simHello tells the controller where the simulated Asterisk listens.
type simHello struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// simUsage is the simulator process's resource use and counters at one moment.
type simUsage struct {
	CPU    time.Duration `json:"cpu_ns"` // user+system CPU since the process started
	RSS    int64         `json:"rss_bytes"`
	Active int           `json:"active"`
	Stats  aritest.Stats `json:"stats"`
}

// simCall is what the callee of one answered call observed.
type simCall struct {
	ID        string     `json:"id"`
	HungUpBy  string     `json:"hung_up_by"`
	Answer    time.Time  `json:"answer"`
	BotFrames int        `json:"bot_frames"`
	Utter     []simUtter `json:"utterances"`
}

// simUtter is one utterance of a callee with the bot's reaction as the callee heard it. Times are on the
// simulator's 20 ms clock (wall-clock Answer + offset).
type simUtter struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	BargeIn bool      `json:"barge_in"` // the bot was talking when the callee started
	// Stop is speech onset (the utterance's start after its silent lead-in) → end of the last bot frame heard
	// (barge-ins only).
	Stop time.Duration `json:"stop_ns"`
	// Leaked counts voiced bot frames heard after the bot stopped and before the callee finished (barge-ins only):
	// queued audio that a flush failed to drop.
	Leaked int `json:"leaked"`
	// Reply is the end of the utterance → the first voiced bot frame heard after it; -1 when none came before the
	// next utterance or the hang-up.
	Reply time.Duration `json:"reply_ns"`
}

// serveSim runs the simulator until in closes.
func serveSim(in io.Reader, out io.Writer, turns int, log zerolog.Logger) error {
	sim, err := aritest.New(aritest.Config{TTS: &ttstest.Synthesizer{}, Logger: log})
	if err != nil {
		return err
	}
	defer sim.Close()
	script, err := calleeScript(turns)
	if err != nil {
		return err
	}
	if err := sim.AddCallee(calleeNumber, script); err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(simHello{URL: sim.URL(), Username: sim.Username(), Password: sim.Password()}); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var v any
		switch sc.Text() {
		case "usage":
			v = simUsage{CPU: processCPU(), RSS: processRSS(), Active: sim.Active(), Stats: sim.Stats()}
		case "calls":
			v = simCalls(sim)
		default:
			v = map[string]string{"error": fmt.Sprintf("unknown command %q", sc.Text())}
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return sc.Err()
}

// simCalls reports every answered call that has ended.
func simCalls(sim *aritest.Server) []simCall {
	var out []simCall
	for _, c := range sim.Calls() {
		if c.Person == nil || c.End.IsZero() {
			continue
		}
		out = append(out, observe(c))
	}
	return out
}

// observe reads one call's callee: its transcript and the bot audio it heard, placed in time.
func observe(c aritest.Call) simCall {
	p := c.Person
	bot := p.BotAudio()
	rate := bot.Rate
	frame := rate / 50
	at := func(d time.Duration) int { return int(int64(d) * int64(rate) / int64(time.Second)) }
	voiced := func(i int) bool { // the 20 ms frame starting at sample i
		if i+frame > len(bot.Samples) {
			return false
		}
		var sum int64
		for _, v := range bot.Samples[i : i+frame] {
			if v < 0 {
				sum -= int64(v)
			} else {
				sum += int64(v)
			}
		}
		return sum/int64(frame) > voiceLevel
	}
	tr := p.Transcript()
	sc := simCall{ID: c.ID, HungUpBy: c.HungUpBy, Answer: c.Answer, BotFrames: p.BotFrames()}
	for k, u := range tr {
		// A barge-in is speech over the bot: the bot was still heard after the silent lead-in ended.
		barge := u.BotTalking && u.BotLastHeard > u.Start+leadIn
		su := simUtter{Start: c.Answer.Add(u.Start), End: c.Answer.Add(u.End), BargeIn: barge, Reply: -1}
		if barge {
			su.Stop = u.StopLatency() - leadIn
			for i := at(u.BotLastHeard); i < at(u.End); i += frame {
				if voiced(i) {
					su.Leaked++
				}
			}
		}
		limit := len(bot.Samples)
		if k+1 < len(tr) {
			limit = at(tr[k+1].Start)
		}
		for i := at(u.End); i < limit; i += frame {
			if voiced(i) {
				su.Reply = time.Duration(i-at(u.End)) * time.Second / time.Duration(rate)
				break
			}
		}
		sc.Utter = append(sc.Utter, su)
	}
	return sc
}

// voiceLevel is the mean absolute sample value above which a bot frame counts as speech; callee.Config's default.
const voiceLevel = 64
