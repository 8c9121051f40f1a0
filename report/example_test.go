package report_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/outcall/outcall/report"
)

// Write makes report.html (self-contained: inline CSS and SVG) and calls.csv from a campaign's calls.
func ExampleWrite() {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	data := report.Data{Campaign: "reminders", Calls: []report.Call{
		{ID: "call-1", ContactID: "contact-1", Contact: "+86*******0001", Start: t0, Dial: "answered", Class: "human", Outcome: "confirmed",
			Completed: true, Success: true, Turns: []report.Turn{{Seq: 1, Input: "utterance", Intent: "confirm", Sentiment: 0.6}}},
		{ContactID: "contact-2", Contact: "+86*******0002", Start: t0, Dial: "busy", Outcome: "busy"}, // never connected: no call id
	}}
	dir, _ := os.MkdirTemp("", "report")
	defer os.RemoveAll(dir)
	htmlPath, csvPath, err := report.Write(dir, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(htmlPath), filepath.Base(csvPath))
	for _, b := range report.Summarize(data).Funnel {
		fmt.Printf("%s %d\n", b.Label, b.Value)
	}
	// Output:
	// report.html calls.csv
	// dialed 2
	// answered 1
	// human 1
	// completed 1
	// promised/confirmed 1
}
