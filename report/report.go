// Package report turns a campaign's calls into a self-contained HTML report (inline SVG charts, no network needed
// to open it) and a CSV file: the outcome funnel, intents, sentiment across turns, turn latency, calls per hour
// and transfer reasons.
package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/outcall/outcall/dialog"
)

// Data is what a report shows: one campaign run.
type Data struct {
	Title     string    // heading; default "outcall campaign report"
	Campaign  string    // campaign id, shown under the title
	Generated time.Time // when the report was made; default time.Now()
	Calls     []Call    // every dial attempt, answered or not
}

// Call is one dial attempt. Phone numbers must already be masked (campaign.MaskPhone): the report prints Contact
// as given.
type Call struct {
	ID             string    // call id; empty for an attempt that never connected (busy, no answer)
	ContactID      string    // the contact's id in the campaign (contact-3, line-7, a CRM id), never a number
	Contact        string    // masked phone number (campaign.MaskPhone)
	Start, End     time.Time // dial start and end of the call
	Dial           string    // the dial outcome: answered, busy, no-answer, congestion, failed, ...
	Class          string    // answer classification: human, machine, fax, sit, announcement, silence; empty if none
	Outcome        string    // the campaign outcome in one word: confirmed, refused, transferred, machine, busy, ...
	Completed      bool      // the script reached one of its ends (not a hang-up or an error midway)
	Success        bool      // the call reached the campaign's goal (a promise to pay, a confirmation)
	Tags           []string  // the dialog outcome tags
	TransferReason string    // why it went to a human, when it did
	Turns          []Turn    // the dialog journal, opening first
	Recording      string    // path of the call's stereo WAV, if recorded; Write links it relative to the report
	Error          string    // what failed, if anything
}

// Turn is the part of a dialog turn the report charts.
type Turn struct {
	Seq       int           // 0 for the opening prompt
	Node      string        // node the turn was heard at
	Input     string        // utterance, keys, no_input, hangup, start
	Intent    string        // intent recognised, if any
	Sentiment float64       // the utterance's sentiment score, -1..1
	Latency   time.Duration // end of speech to the reply's first audio: ASR + decide + TTS first frame
	BargeIn   bool          // the callee interrupted the prompt
}

// TurnsOf converts a dialog journal to report turns.
func TurnsOf(ts []dialog.Turn) []Turn {
	out := make([]Turn, 0, len(ts))
	for _, t := range ts {
		out = append(out, Turn{Seq: t.Seq, Node: t.Node, Input: t.Input, Intent: t.Intent, Sentiment: t.Sentiment,
			Latency: t.Latency.ASR + t.Latency.Decide + t.Latency.TTSFirst, BargeIn: t.BargeIn})
	}
	return out
}

// Bar is one labelled value of a chart.
type Bar struct {
	Label string `json:"label"`
	Value int    `json:"value"`
}

// Point is one point of the sentiment line: the mean score of the callees' utterances at turn Seq.
type Point struct {
	Seq   int     `json:"turn"`
	Mean  float64 `json:"mean"`
	Count int     `json:"count"`
}

// Summary is the data of every chart, computed from Data by Summarize.
type Summary struct {
	Calls     int     `json:"calls"`
	Funnel    []Bar   `json:"funnel"`    // dialed, answered, human, completed, promised/confirmed
	Outcomes  []Bar   `json:"outcomes"`  // calls per outcome
	Intents   []Bar   `json:"intents"`   // turns per recognised intent
	Sentiment []Point `json:"sentiment"` // mean sentiment per turn
	Latency   []Bar   `json:"latency"`   // turns per latency bucket
	PerHour   []Bar   `json:"per_hour"`  // dial attempts per hour of the day
	Transfers []Bar   `json:"transfers"` // transfers to a human per reason
}

// LatencyBuckets are the upper bounds of the latency histogram's buckets; a last bucket takes the rest.
var LatencyBuckets = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second}

// Summarize computes every chart's data.
func Summarize(d Data) Summary {
	s := Summary{Calls: len(d.Calls)}
	var answered, human, completed, success int
	outcomes, intents, hours, transfers := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	type acc struct {
		sum float64
		n   int
	}
	sent := map[int]*acc{}
	lat := make([]int, len(LatencyBuckets)+1)
	for _, c := range d.Calls {
		if c.Dial == "answered" {
			answered++
		}
		if c.Class == "human" {
			human++
		}
		if c.Completed {
			completed++
		}
		if c.Success {
			success++
		}
		if c.Outcome != "" {
			outcomes[c.Outcome]++
		}
		if !c.Start.IsZero() {
			hours[c.Start.Format("2006-01-02 15:00")]++
		}
		if c.TransferReason != "" {
			transfers[c.TransferReason]++
		}
		for _, t := range c.Turns {
			if t.Seq == 0 || t.Input == "start" {
				continue
			}
			if t.Intent != "" {
				intents[t.Intent]++
			}
			if t.Input == "utterance" {
				a := sent[t.Seq]
				if a == nil {
					a = &acc{}
					sent[t.Seq] = a
				}
				a.sum += t.Sentiment
				a.n++
			}
			if t.Latency > 0 {
				i := sort.Search(len(LatencyBuckets), func(i int) bool { return t.Latency <= LatencyBuckets[i] })
				lat[i]++
			}
		}
	}
	s.Funnel = []Bar{{"dialed", len(d.Calls)}, {"answered", answered}, {"human", human}, {"completed", completed},
		{"promised/confirmed", success}}
	s.Outcomes = sortedBars(outcomes)
	s.Intents = sortedBars(intents)
	s.Transfers = sortedBars(transfers)
	for h, n := range hours {
		s.PerHour = append(s.PerHour, Bar{h, n})
	}
	sort.Slice(s.PerHour, func(i, j int) bool { return s.PerHour[i].Label < s.PerHour[j].Label })
	for seq, a := range sent {
		s.Sentiment = append(s.Sentiment, Point{Seq: seq, Mean: a.sum / float64(a.n), Count: a.n})
	}
	sort.Slice(s.Sentiment, func(i, j int) bool { return s.Sentiment[i].Seq < s.Sentiment[j].Seq })
	prev := time.Duration(0)
	for i, b := range LatencyBuckets {
		s.Latency = append(s.Latency, Bar{fmt.Sprintf("%s–%s", short(prev), short(b)), lat[i]})
		prev = b
	}
	s.Latency = append(s.Latency, Bar{"> " + short(prev), lat[len(LatencyBuckets)]})
	return s
}

func short(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%gs", d.Seconds())
}

// sortedBars orders by value (largest first), then label.
func sortedBars(m map[string]int) []Bar {
	out := make([]Bar, 0, len(m))
	for k, v := range m {
		out = append(out, Bar{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value > out[j].Value
		}
		return out[i].Label < out[j].Label
	})
	return out
}

// Write makes dir (if needed) and writes report.html and calls.csv into it, returning their paths.
func Write(dir string, d Data) (htmlPath, csvPath string, err error) {
	if dir == "" {
		return "", "", errors.New("report: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("report: %w", err)
	}
	htmlPath, csvPath = filepath.Join(dir, "report.html"), filepath.Join(dir, "calls.csv")
	d.Calls = relativeRecordings(dir, d.Calls)
	if err := writeFile(htmlPath, func(f *os.File) error { return WriteHTML(f, d) }); err != nil {
		return "", "", err
	}
	if err := writeFile(csvPath, func(f *os.File) error { return WriteCSV(f, d) }); err != nil {
		return "", "", err
	}
	return htmlPath, csvPath, nil
}

// relativeRecordings returns calls with each recording path made relative to dir, where the report is, so that its
// links work wherever the directory is moved or served from; a recording outside dir keeps its path.
func relativeRecordings(dir string, calls []Call) []Call {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return calls
	}
	out := make([]Call, len(calls))
	for i, c := range calls {
		if c.Recording != "" {
			if abs, err := filepath.Abs(c.Recording); err == nil {
				if rel, err := filepath.Rel(absDir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					c.Recording = filepath.ToSlash(rel)
				}
			}
		}
		out[i] = c
	}
	return out
}

func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := fill(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("report: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
