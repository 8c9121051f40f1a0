package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outcall/outcall/dialog"
)

func sample() Data {
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	turns := func(intent string, sent float64, lat time.Duration) []Turn {
		return []Turn{{Seq: 0, Input: "start"}, {Seq: 1, Input: "utterance", Intent: intent, Sentiment: sent, Latency: lat}}
	}
	return Data{Campaign: "test", Generated: t0, Calls: []Call{
		{ID: "c1", Contact: "+86*******0001", Start: t0, End: t0.Add(8 * time.Second), Dial: "answered", Class: "human",
			Outcome: "confirmed", Completed: true, Success: true, Tags: []string{"confirmed"}, Turns: turns("confirm", 0.6, 30*time.Millisecond)},
		{ID: "c2", Contact: "+86*******0002", Start: t0.Add(time.Minute), Dial: "answered", Class: "human",
			Outcome: "refused", Completed: true, Turns: turns("refuse", -0.4, 700*time.Millisecond)},
		{ID: "c3", Contact: "+86*******0003", Start: t0.Add(time.Hour), Dial: "answered", Class: "human",
			Outcome: "transferred", Completed: true, TransferReason: "requested", Turns: turns("human", 0, 3*time.Second)},
		{ID: "c4", Contact: "+86*******0004", Start: t0.Add(time.Hour), Dial: "busy", Outcome: "busy"},
		{ID: "c5", Contact: "+86*******0005", Start: t0.Add(2 * time.Hour), Dial: "answered", Class: "machine", Outcome: "machine"},
	}}
}

func TestSummarize(t *testing.T) {
	s := Summarize(sample())
	want := map[string]int{"dialed": 5, "answered": 4, "human": 3, "completed": 3, "promised/confirmed": 1}
	for _, b := range s.Funnel {
		if want[b.Label] != b.Value {
			t.Errorf("funnel %s = %d, want %d", b.Label, b.Value, want[b.Label])
		}
	}
	if len(s.Intents) != 3 || len(s.Transfers) != 1 || s.Transfers[0] != (Bar{"requested", 1}) {
		t.Errorf("intents %v transfers %v", s.Intents, s.Transfers)
	}
	if len(s.Sentiment) != 1 || s.Sentiment[0].Count != 3 || s.Sentiment[0].Mean < 0.066 || s.Sentiment[0].Mean > 0.067 {
		t.Errorf("sentiment %+v", s.Sentiment)
	}
	lat := map[string]int{}
	for _, b := range s.Latency {
		lat[b.Label] = b.Value
	}
	if lat["0ms–50ms"] != 1 || lat["500ms–1s"] != 1 || lat["> 2s"] != 1 {
		t.Errorf("latency %v", s.Latency)
	}
	hours := map[string]int{}
	for _, b := range s.PerHour {
		hours[b.Label] = b.Value
	}
	if hours["2026-03-02 09:00"] != 2 || hours["2026-03-02 10:00"] != 2 || hours["2026-03-02 11:00"] != 1 {
		t.Errorf("per hour %v", s.PerHour)
	}
}

// TestHTMLHoldsEveryChart checks that every chart is drawn with its data, and that the embedded JSON matches.
func TestHTMLHoldsEveryChart(t *testing.T) {
	d := sample()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") || strings.Contains(html, "<script src") {
		t.Error("the report must not load anything from the network")
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="outcall-report">(.*?)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("no embedded data")
	}
	var got Summary
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Fatal(err)
	}
	want := Summarize(d)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) {
		t.Errorf("embedded summary\n%s\nwant\n%s", gj, wj)
	}
	charts := map[string][]Bar{"funnel": want.Funnel, "outcomes": want.Outcomes, "intents": want.Intents,
		"latency": want.Latency, "per-hour": want.PerHour, "transfers": want.Transfers}
	for id, bars := range charts {
		sec := section(t, html, id)
		for _, b := range bars {
			needle := `data-label="` + templateEscape(b.Label) + `" data-value="` + itoa(b.Value) + `"`
			if !strings.Contains(sec, needle) {
				t.Errorf("chart %s lacks %s", id, needle)
			}
		}
	}
	sec := section(t, html, "sentiment")
	if !strings.Contains(sec, `data-label="turn 1" data-value="0.07"`) || !strings.Contains(sec, "<polyline") {
		t.Errorf("sentiment chart: %s", sec)
	}
	for _, c := range d.Calls {
		if !strings.Contains(html, "<td>"+templateEscape(c.Contact)+"</td>") {
			t.Errorf("calls table lacks %s", c.Contact)
		}
	}
}

func section(t *testing.T, html, id string) string {
	t.Helper()
	i := strings.Index(html, `<section class="chart" id="`+id+`">`)
	if i < 0 {
		t.Fatalf("no chart %q", id)
	}
	j := strings.Index(html[i:], "</section>")
	return html[i : i+j]
}

func templateEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestEmptyCampaign(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, Data{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "no data") || !strings.Contains(buf.String(), `id="funnel"`) {
		t.Error("an empty report still shows the funnel and says where there is no data")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "out")
	h, c, err := Write(dir, sample())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("csv rows %d header %v", len(rows), rows[0])
	}
	if rows[1][7] != "confirmed" || rows[1][9] != "true" || rows[1][13] != "confirm" || rows[4][5] != "busy" {
		t.Errorf("csv row %v / %v", rows[1], rows[4])
	}
	if _, _, err := Write("", sample()); err == nil {
		t.Error("an empty directory must be an error")
	}
}

func TestTurnsOf(t *testing.T) {
	ts := TurnsOf([]dialog.Turn{{Seq: 1, Node: "ask", Input: "utterance", Intent: "confirm", Sentiment: 0.5,
		Latency: dialog.Latency{ASR: 10 * time.Millisecond, Decide: 5 * time.Millisecond, TTSFirst: 20 * time.Millisecond}}})
	if len(ts) != 1 || ts[0].Latency != 35*time.Millisecond || ts[0].Intent != "confirm" || ts[0].Node != "ask" {
		t.Errorf("%+v", ts)
	}
}

// TestRecordingLinks: recordings are linked relative to the report, so the links work wherever the output
// directory is opened, moved or served from; the CSV names them the same way.
func TestRecordingLinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	d := sample()
	d.Calls[0].Recording = filepath.Join(dir, "recordings", "contact-1_c1.wav")         // absolute, inside
	d.Calls[1].Recording = filepath.Join("..", "elsewhere", "c2.wav")                   // relative, outside
	rel, err := filepath.Rel(".", filepath.Join(dir, "recordings", "contact-3_c3.wav")) // relative to the working directory
	if err != nil {
		rel = filepath.Join(dir, "recordings", "contact-3_c3.wav")
	}
	d.Calls[2].Recording = rel
	h, c, err := Write(dir, d)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(h)
	for _, want := range []string{`<a href="recordings/contact-1_c1.wav">contact-1_c1.wav</a>`,
		`<a href="recordings/contact-3_c3.wav">contact-3_c3.wav</a>`, `<a href="../elsewhere/c2.wav">c2.wav</a>`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %s", want)
		}
	}
	f, _ := os.Open(c)
	defer f.Close()
	rows, _ := csv.NewReader(f).ReadAll()
	if rows[1][14] != "recordings/contact-1_c1.wav" {
		t.Errorf("csv recording %q", rows[1][14])
	}
	if d.Calls[0].Recording != filepath.Join(dir, "recordings", "contact-1_c1.wav") {
		t.Error("Write changed the caller's data")
	}
}

// TestUnconnectedCall: an attempt that never connected has no call id; its row says so and names the contact by
// its masked number and id, rather than showing the contact id where call ids go.
func TestUnconnectedCall(t *testing.T) {
	d := sample()
	d.Calls[3].ID, d.Calls[3].ContactID = "", "contact-4"
	var buf bytes.Buffer
	if err := WriteHTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<tr><td>—</td><td>&#43;86*******0004 <span class="id">contact-4</span></td>`) {
		t.Errorf("busy row:\n%s", buf.String()[strings.Index(buf.String(), `<table id="calls">`):])
	}
	buf.Reset()
	if err := WriteCSV(&buf, d); err != nil {
		t.Fatal(err)
	}
	rows, _ := csv.NewReader(&buf).ReadAll()
	if rows[0][16] != "contact_id" || rows[4][0] != "" || rows[4][16] != "contact-4" {
		t.Errorf("csv %v / %v", rows[0], rows[4])
	}
}

// TestOnePointSentiment: a chart of one point says that there is no trend to show rather than draw a lone dot.
func TestOnePointSentiment(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	if sec := section(t, buf.String(), "sentiment"); !strings.Contains(sec, "only turn 1 has callee utterances") {
		t.Errorf("sentiment chart: %s", sec)
	}
}

// TestCJKFonts: the page names a CJK font of every common system, says it is Chinese when it holds Chinese text,
// and tells the reader how to fix a machine with no CJK font rather than leave boxes unexplained.
func TestCJKFonts(t *testing.T) {
	d := sample()
	d.Title = "逾期提醒"
	var buf bytes.Buffer
	if err := WriteHTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{`<html lang="zh-Hans">`, `"Noto Sans CJK SC"`, `"Microsoft YaHei"`, `"PingFang SC"`,
		`"WenQuanYi Micro Hei"`, `id="no-cjk-font"`, "fonts-noto-cjk"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %s", want)
		}
	}
	buf.Reset()
	if err := WriteHTML(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<html lang="en">`) {
		t.Error("an English report is not lang=en")
	}
}
