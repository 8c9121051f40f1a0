package sectortest

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/tts/ttstest"
	"github.com/outcall/outcall/tts/ttstest/modem"
)

func TestScratchHeard(t *testing.T) {
	for _, d := range []*pbx{startARI(t), startESL(t)} {
		for i, pi := range []int{3, 5} {
			p := paths[pi]
			num := string(rune('7'+i)) + "99"
			if err := d.add(num, callee.Script{Steps: p.steps}); err != nil {
				t.Fatal(err)
			}
			s, _ := dialog.LoadFile("../../examples/" + p.sector + "/script.yaml")
			s.Settings.Transfer.Endpoint = d.agent
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			c, err := d.dial(ctx, num)
			if err != nil {
				t.Fatal(err)
			}
			res, err := dialog.Run(ctx, c, s, dialog.Deps{ASR: &recognizer{}, TTS: &ttstest.Synthesizer{}, Clock: clock, Vars: p.vars})
			if err != nil {
				t.Fatal(err)
			}
			rec, _ := d.waitFor(ctx, c, num, func(r record) bool { return r.Ended })
			cancel()
			bot := rec.Person.BotAudio()
			fr := bot.Rate / 50
			start, end := -1, len(bot.Samples)
			quiet := 0
			for j := 0; j+fr <= len(bot.Samples); j += fr {
				sum := 0
				for _, v := range bot.Samples[j : j+fr] {
					if v < 0 {
						v = -v
					}
					sum += int(v)
				}
				loud := sum/fr > 64
				if start < 0 {
					if loud {
						start = j
					}
					continue
				}
				if loud {
					quiet = 0
				} else if quiet++; quiet == 5 {
					end = j - 4*fr
					break
				}
			}
			dec, _ := modem.NewDecoder(bot.Rate, -1)
			_ = dec.Write(bot.Samples[start:end])
			got := strings.ToValidUTF8(dec.Text(), "")
			tr := res.Turns[1]
			t.Logf("%s %s: bot audio heard %v; decoded %d/%d runes %q; dialog Heard %d runes %q; barge-in %v", d.name, p.name,
				time.Duration(end-start)*time.Second/time.Duration(bot.Rate), utf8.RuneCountInString(got), utf8.RuneCountInString(tr.Prompt), got,
				utf8.RuneCountInString(tr.Heard), tr.Heard, tr.BargeIn)
		}
	}
}
