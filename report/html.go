package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// chart is one rendered chart: its id (the section's id in the HTML), title, and SVG geometry.
type chart struct {
	ID, Title, Note string
	Bars            []barGeom
	Line            *lineGeom
	Height          int
}

type barGeom struct {
	Label         string
	Value         int
	Y, W, TextY   int
	Color         string
	ValueX, Share string
}

type lineGeom struct {
	Points string
	Dots   []dot
	ZeroY  int
	Width  int
}

type dot struct {
	X, Y  int
	Label string
	Mean  string
	Count int
}

const (
	chartWidth = 640
	labelWidth = 170
	barMax     = chartWidth - labelWidth - 60
	rowHeight  = 26
)

var palette = []string{"#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#dc2626", "#ca8a04", "#4f46e5"}

func barChart(id, title, note string, bars []Bar) chart {
	c := chart{ID: id, Title: title, Note: note}
	maxV := 0
	total := 0
	for _, b := range bars {
		maxV = max(maxV, b.Value)
		total += b.Value
	}
	for i, b := range bars {
		w := 0
		if maxV > 0 {
			w = b.Value * barMax / maxV
		}
		if b.Value > 0 && w < 2 {
			w = 2
		}
		share := ""
		if total > 0 && id != "funnel" {
			share = fmt.Sprintf(" (%.0f%%)", 100*float64(b.Value)/float64(total))
		}
		y := 8 + i*rowHeight
		c.Bars = append(c.Bars, barGeom{Label: b.Label, Value: b.Value, Y: y, W: w, TextY: y + 15,
			Color: palette[i%len(palette)], ValueX: strconv.Itoa(labelWidth + w + 6), Share: share})
	}
	c.Height = 16 + len(bars)*rowHeight
	return c
}

func sentimentChart(ps []Point) chart {
	c := chart{ID: "sentiment", Title: "Sentiment across turns",
		Note: "mean sentiment (-1 negative … +1 positive) of the callees' utterances at each turn", Height: 180}
	if len(ps) == 0 {
		return c
	}
	if len(ps) == 1 {
		c.Note = fmt.Sprintf("only turn %d has callee utterances (%d, mean %+.2f): a trend needs two turns or more",
			ps[0].Seq, ps[0].Count, ps[0].Mean)
	}
	const w, top, h = chartWidth - 60, 10, 150
	step := w
	if len(ps) > 1 {
		step = w / (len(ps) - 1)
	}
	lg := &lineGeom{ZeroY: top + h/2, Width: chartWidth - 20}
	var pts []string
	for i, p := range ps {
		x := 40 + i*step
		if len(ps) == 1 {
			x = 40 + w/2
		}
		y := top + int(float64(h/2)*(1-p.Mean))
		pts = append(pts, fmt.Sprintf("%d,%d", x, y))
		lg.Dots = append(lg.Dots, dot{X: x, Y: y, Label: "turn " + strconv.Itoa(p.Seq), Mean: strconv.FormatFloat(p.Mean, 'f', 2, 64), Count: p.Count})
	}
	lg.Points = strings.Join(pts, " ")
	c.Line = lg
	return c
}

type page struct {
	Lang                       string // the page's language: zh-Hans when it holds Chinese text, so browsers pick a CJK font
	Title, Campaign, Generated string
	Summary                    Summary
	Charts                     []chart
	Calls                      []callRow
	JSON                       template.JS
}

type callRow struct {
	Call
	Start, Duration, TagList string
	RecordingName            string // the recording's file name, the link's text
}

// fontStack lists a CJK font of every common system (macOS, Windows, Linux, Android) before the generic family,
// so that Chinese transcripts, outcomes and titles render wherever one is installed; noCJKScript tells the reader
// when none is (the text would show as boxes) and how to fix it, rather than leave boxes unexplained.
const fontStack = `system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",` +
	`"Noto Sans SC","Source Han Sans SC","WenQuanYi Micro Hei","WenQuanYi Zen Hei","Droid Sans Fallback",sans-serif`

var tmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 ` + fontStack + `;margin:24px;color:#111;background:#f8fafc}
h1{margin:0 0 4px}.sub{color:#555;margin-bottom:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(660px,1fr));gap:16px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px 16px}
h2{font-size:16px;margin:0 0 2px}.note{color:#666;font-size:12px;margin-bottom:6px}
svg text{font-size:12px;fill:#222}.empty{color:#888;font-style:italic}
table{border-collapse:collapse;width:100%;background:#fff;margin-top:16px}td,th{border:1px solid #e2e8f0;padding:4px 6px;text-align:left;font-size:12px}
th{background:#f1f5f9}.id{color:#666;font-size:11px}
#no-cjk-font{display:none;background:#fef3c7;border:1px solid #f59e0b;border-radius:6px;padding:8px 12px;margin-bottom:16px}
</style></head><body>
<div id="no-cjk-font">No Chinese font is installed on this machine, so Chinese text shows as boxes. Install one
(Debian/Ubuntu: <code>apt install fonts-noto-cjk</code>; Fedora: <code>dnf install google-noto-sans-cjk-fonts</code>) and
reload, or open calls.csv in a spreadsheet.</div>
<h1>{{.Title}}</h1>
<div class="sub">campaign {{.Campaign}} · {{.Summary.Calls}} calls · generated {{.Generated}}</div>
<div class="grid">
{{range .Charts}}<section class="chart" id="{{.ID}}"><h2>{{.Title}}</h2><div class="note">{{.Note}}</div>
{{if .Line}}<svg width="{{.Line.Width}}" height="{{.Height}}" viewBox="0 0 {{.Line.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
<line x1="30" y1="{{.Line.ZeroY}}" x2="{{.Line.Width}}" y2="{{.Line.ZeroY}}" stroke="#cbd5e1" stroke-dasharray="4 3"/>
<text x="0" y="16">+1</text><text x="4" y="{{.Line.ZeroY}}">0</text><text x="0" y="164">-1</text>
<polyline points="{{.Line.Points}}" fill="none" stroke="#2563eb" stroke-width="2"/>
{{range .Line.Dots}}<g class="point" data-label="{{.Label}}" data-value="{{.Mean}}"><circle cx="{{.X}}" cy="{{.Y}}" r="4" fill="#2563eb"><title>{{.Label}}: {{.Mean}} ({{.Count}} utterances)</title></circle><text x="{{.X}}" y="176" text-anchor="middle">{{.Label}}</text></g>
{{end}}</svg>
{{else if .Bars}}<svg width="640" height="{{.Height}}" viewBox="0 0 640 {{.Height}}" role="img" aria-label="{{.Title}}">
{{range .Bars}}<g class="bar" data-label="{{.Label}}" data-value="{{.Value}}"><text x="0" y="{{.TextY}}">{{.Label}}</text><rect x="170" y="{{.Y}}" width="{{.W}}" height="18" rx="3" fill="{{.Color}}"/><text x="{{.ValueX}}" y="{{.TextY}}">{{.Value}}{{.Share}}</text></g>
{{end}}</svg>
{{else}}<div class="empty">no data</div>{{end}}
</section>
{{end}}</div>
<table id="calls"><thead><tr><th>call</th><th>contact</th><th>start</th><th>duration</th><th>dial</th><th>answered by</th><th>outcome</th><th>tags</th><th>transfer reason</th><th>turns</th><th>recording</th></tr></thead><tbody>
{{range .Calls}}<tr><td>{{if .ID}}{{.ID}}{{else}}—{{end}}</td><td>{{.Contact}}{{if .ContactID}} <span class="id">{{.ContactID}}</span>{{end}}</td><td>{{.Start}}</td><td>{{.Duration}}</td><td>{{.Dial}}</td><td>{{.Class}}</td><td>{{.Outcome}}</td><td>{{.TagList}}</td><td>{{.TransferReason}}</td><td>{{len .Turns}}</td><td>{{if .Recording}}<a href="{{.Recording}}">{{.RecordingName}}</a>{{end}}</td></tr>
{{end}}</tbody></table>
<script type="application/json" id="outcall-report">{{.JSON}}</script>
<script>
(function () { // show #no-cjk-font when "中" renders as the same box as a code point no font has
  var c = document.createElement("canvas"), x = c.getContext && c.getContext("2d");
  if (!x) return;
  c.width = c.height = 40;
  var draw = function (s) {
    x.clearRect(0, 0, 40, 40); x.font = "32px " + getComputedStyle(document.body).fontFamily; x.fillText(s, 2, 34);
    return Array.prototype.join.call(x.getImageData(0, 0, 40, 40).data, ",");
  };
  if (draw("\u4e2d") === draw("\udbff\udffd")) document.getElementById("no-cjk-font").style.display = "block";
})();
</script>
</body></html>
`))

// WriteHTML writes the self-contained HTML report: inline CSS and SVG only, and every chart's data also as JSON in
// the element with id "outcall-report".
func WriteHTML(w io.Writer, d Data) error {
	if d.Title == "" {
		d.Title = "outcall campaign report"
	}
	if d.Generated.IsZero() {
		d.Generated = time.Now()
	}
	s := Summarize(d)
	js, err := json.Marshal(s)
	if err != nil {
		return err
	}
	p := page{Lang: pageLang(d), Title: d.Title, Campaign: d.Campaign, Generated: d.Generated.Format(time.RFC3339), Summary: s,
		JSON: template.JS(js)}
	p.Charts = []chart{
		barChart("funnel", "Outcome funnel", "dialed → answered → human → completed → promised/confirmed", s.Funnel),
		barChart("outcomes", "Outcomes", "calls per campaign outcome", s.Outcomes),
		barChart("intents", "Intents", "callee turns per recognised intent", s.Intents),
		sentimentChart(s.Sentiment),
		barChart("latency", "Turn latency", "end of the callee's speech → first audio of the reply (ASR + decision + TTS)", s.Latency),
		barChart("per-hour", "Calls per hour", "dial attempts started in each hour", s.PerHour),
		barChart("transfers", "Transfer reasons", "calls handed to a human, by reason", s.Transfers),
	}
	for _, c := range d.Calls {
		r := callRow{Call: c, TagList: strings.Join(c.Tags, " "), RecordingName: path.Base(filepath.ToSlash(c.Recording))}
		if !c.Start.IsZero() {
			r.Start = c.Start.Format("15:04:05")
			if !c.End.IsZero() {
				r.Duration = c.End.Sub(c.Start).Round(100 * time.Millisecond).String()
			}
		}
		p.Calls = append(p.Calls, r)
	}
	return tmpl.Execute(w, p)
}

// pageLang is zh-Hans for a report with Chinese text in its title, outcomes, tags or nodes, else en.
func pageLang(d Data) string {
	han := func(s string) bool {
		for _, r := range s {
			if unicode.Is(unicode.Han, r) {
				return true
			}
		}
		return false
	}
	texts := []string{d.Title, d.Campaign}
	for _, c := range d.Calls {
		texts = append(texts, c.Outcome, c.TransferReason, strings.Join(c.Tags, " "))
		for _, t := range c.Turns {
			texts = append(texts, t.Node, t.Intent)
		}
	}
	for _, t := range texts {
		if han(t) {
			return "zh-Hans"
		}
	}
	return "en"
}

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"call_id", "contact", "start", "end", "duration_s", "dial", "answered_by", "outcome",
	"completed", "success", "tags", "transfer_reason", "turns", "intents", "recording", "error", "contact_id"}

// WriteCSV writes one row per call.
func WriteCSV(w io.Writer, d Data) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, c := range d.Calls {
		var start, end, dur string
		if !c.Start.IsZero() {
			start = c.Start.Format(time.RFC3339)
		}
		if !c.End.IsZero() {
			end = c.End.Format(time.RFC3339)
			if !c.Start.IsZero() {
				dur = strconv.FormatFloat(c.End.Sub(c.Start).Seconds(), 'f', 1, 64)
			}
		}
		var intents []string
		for _, t := range c.Turns {
			if t.Intent != "" {
				intents = append(intents, t.Intent)
			}
		}
		if err := cw.Write([]string{c.ID, c.Contact, start, end, dur, c.Dial, c.Class, c.Outcome,
			strconv.FormatBool(c.Completed), strconv.FormatBool(c.Success), strings.Join(c.Tags, " "),
			c.TransferReason, strconv.Itoa(len(c.Turns)), strings.Join(intents, " "), c.Recording, c.Error, c.ContactID}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
