package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/campaign"
	"github.com/outcall/outcall/report"
)

// Campaign is one run of a script over a list of contacts, for Run.
type Campaign struct {
	ID          string             // campaign id; default "campaign"
	Script      *dialog.Script     // the call script; required
	Contacts    []campaign.Contact // who to call; required
	Concurrency int                // calls at once; default: all contacts
	RingTimeout time.Duration      // default 20s
	OutDir      string             // recordings go to OutDir/recordings; empty: no recordings
	Notifier    dialog.Notifier    // the script's notifications; nil: logged only
	Classify    campaign.ClassifyConfig
	// Outcome names a dialog result in one word for the summary and report; default DefaultOutcome.
	Outcome func(dialog.Result) string
	// Success says whether a call reached the campaign's goal; default: its outcome is "confirmed" or "promised".
	Success func(dialog.Result) bool
	// MaxCall bounds one call from dial to hang-up; default 60s.
	MaxCall time.Duration
	// Progress receives a progress bar (on a terminal) or plain progress lines; nil: none.
	Progress io.Writer
}

// Record is what happened to one contact.
type Record struct {
	Contact   campaign.Contact
	Masked    string                   // the phone number masked for printing
	CallID    string                   // the call's id on the PBX side (ARI channel, FreeSWITCH uuid); empty when not connected
	Start     time.Time                // dialing began
	End       time.Time                // the call (or the attempt) ended
	Dial      call.Outcome             // Answered, Busy, NoAnswer, ...
	DialErr   error                    // why an unanswered attempt ended
	Class     *campaign.Classification // nil when not answered (or the call ended before it was classified)
	Result    *dialog.Result           // nil when the dialog did not run
	Err       error                    // a failure while handling the answered call
	Recording string                   // stereo WAV: callee left, bot right
	Outcome   string                   // one word: busy, machine, confirmed, transferred, ...
	Success   bool                     // the call reached the campaign's goal (Campaign.Success)

	sensitive map[string]bool // the script's sensitive slots, printed masked
}

// DefaultOutcome names a dialog result: transferred for a transfer, callback, opt_out, no_response, hangup for a
// callee who hung up midway, else the last outcome tag, else completed.
func DefaultOutcome(r dialog.Result) string {
	o := r.Outcome
	switch {
	case o.End == dialog.EndTransfer:
		return "transferred"
	case o.Has(dialog.TagOptOut):
		return "opt_out"
	case o.Has(dialog.TagCallback):
		return "callback"
	case o.Has(dialog.TagNoResponse):
		return "no_response"
	case o.End == dialog.EndCalleeHangup || o.End == dialog.EndNone:
		return "hangup"
	case len(o.Tags) > 0:
		return o.Tags[len(o.Tags)-1]
	}
	return "completed"
}

// reportCall converts the record for the report.
func (r Record) reportCall() report.Call {
	c := report.Call{ID: r.CallID, ContactID: r.Contact.ID, Contact: r.Masked, Start: r.Start, End: r.End,
		Dial: r.Dial.String(), Outcome: r.Outcome, Success: r.Success, Recording: r.Recording}
	if r.Class != nil {
		c.Class = string(r.Class.Class)
	}
	if r.Result != nil {
		res := r.Result
		c.ID = res.CallID
		c.Tags = res.Outcome.Tags
		c.TransferReason = res.TransferReason
		c.Turns = report.TurnsOf(res.Turns)
		c.Completed = res.Outcome.End == dialog.EndHangup || res.Outcome.End == dialog.EndTransfer
	}
	if err := firstErr(r.Err, r.DialErr); err != nil && r.Dial != call.Busy && r.Dial != call.NoAnswer {
		c.Error = redactor.Redact(err.Error())
	}
	return c
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Report is the campaign report (report.Write) of a run's records, titled title.
func Report(id, title string, recs []Record) report.Data {
	d := report.Data{Title: title, Campaign: id, Generated: time.Now()}
	for _, r := range recs {
		d.Calls = append(d.Calls, r.reportCall())
	}
	return d
}

// Run calls every contact: dial, answer classification (campaign.ClassifyingHandler), then the dialog for a
// person, recording each answered call in stereo (callee left, bot right) into OutDir/recordings. With Redis
// (REDIS_URL) the contacts go through campaign.Runner (leases, gates, pacing, retries); otherwise this process dials
// them directly with the same handler. Phone numbers are read as campaign.NormalizePhone reads them; a contact
// without an id gets "contact-<n>", its position.
//
// Records come back in contact order. When ctx ends (Ctrl-C), the live calls are hung up and Run returns ctx's
// error with the records so far.
func Run(ctx context.Context, p *Platform, c Campaign) ([]Record, error) {
	if c.Script == nil || len(c.Contacts) == 0 {
		return nil, errors.New("outbound: a campaign needs a script and contacts")
	}
	if c.ID == "" {
		c.ID = "campaign"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = len(c.Contacts)
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = 20 * time.Second
	}
	if c.MaxCall <= 0 {
		c.MaxCall = 60 * time.Second
	}
	if c.Outcome == nil {
		c.Outcome = DefaultOutcome
	}
	if c.Success == nil {
		c.Success = func(r dialog.Result) bool { o := c.Outcome(r); return o == "confirmed" || o == "promised" }
	}
	if c.OutDir != "" {
		if err := os.MkdirAll(filepath.Join(c.OutDir, "recordings"), 0o755); err != nil {
			return nil, err
		}
	}
	c.Contacts = append([]campaign.Contact(nil), c.Contacts...)
	sensitive := map[string]bool{}
	for _, sl := range c.Script.Slots {
		if sl.Sensitive {
			sensitive[sl.Name] = true
		}
	}
	ru := &run{p: p, c: c, recs: make([]Record, len(c.Contacts)), idx: map[string]int{}}
	for i, ct := range c.Contacts {
		e164, err := campaign.NormalizePhone(ct.Phone, "")
		if err != nil {
			return nil, fmt.Errorf("outbound: contact %d (%s): %w", i+1, ct.ID, err)
		}
		ct.Phone = e164
		if ct.ID == "" {
			// Not the phone number: ids appear in reports, file names and Redis keys.
			ct.ID = fmt.Sprintf("contact-%d", i+1)
		}
		if _, dup := ru.idx[ct.ID]; dup {
			return nil, fmt.Errorf("outbound: contact id %q appears twice", ct.ID)
		}
		c.Contacts[i] = ct
		ru.recs[i] = Record{Contact: ct, Masked: campaign.MaskPhone(ct.Phone), sensitive: sensitive}
		ru.idx[ct.ID] = i
	}
	camp := campaign.Config{ID: c.ID, Endpoint: p.Env.DialEndpoint, RingTimeout: c.RingTimeout, MaxConcurrent: c.Concurrency,
		CPS: 50, TimeZone: "Asia/Shanghai", Windows: []campaign.Window{{Days: campaign.EveryDay, Start: "00:00", End: "24:00"}},
		MaxAttempts: 1}
	if err := camp.Validate(); err != nil {
		return nil, err
	}
	ru.bar = newProgress(c.Progress, len(c.Contacts))
	classify := campaign.ClassifyingHandler(c.Classify, nil, nil, ru.converse)
	handler := func(ctx context.Context, cl call.Call, a campaign.Attempt) (campaign.CallResult, error) {
		res, err := classify(ctx, cl, a)
		ru.update(a.Contact.ID, func(r *Record) {
			if err != nil {
				r.Err = firstErr(r.Err, err)
			}
			// ClassifyingHandler reports a non-human verdict in Data; a person's reached converse.
			if m, ok := res.Data.(map[string]any); ok && r.Class == nil {
				if class, ok := m["class"].(campaign.AnswerClass); ok {
					reason, _ := m["reason"].(string)
					r.Class = &campaign.Classification{Class: class, Reason: reason}
					r.Outcome = string(class)
				}
			}
		})
		return res, err
	}
	dialer := &recordingDialer{run: ru}
	ru.dialer = dialer
	var err error
	if p.Redis != nil {
		err = ru.viaRunner(ctx, camp, dialer, handler)
	} else {
		err = ru.direct(ctx, camp, dialer, handler)
	}
	ru.bar.done()
	return ru.recs, err
}

type run struct {
	p      *Platform
	c      Campaign
	bar    *progress
	dialer *recordingDialer
	mu     sync.Mutex
	recs   []Record
	idx    map[string]int
}

func (ru *run) update(id string, f func(r *Record)) {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	if i, ok := ru.idx[id]; ok {
		f(&ru.recs[i])
	}
}

// direct dials every contact from this process, Concurrency at a time.
func (ru *run) direct(ctx context.Context, camp campaign.Config, d call.Dialer, h campaign.Handler) error {
	sem := make(chan struct{}, ru.c.Concurrency)
	var wg sync.WaitGroup
	for _, ct := range ru.c.Contacts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, ru.c.MaxCall)
			defer cancel()
			c, err := d.Dial(cctx, call.Request{Endpoint: camp.DialString(ct.Phone), Timeout: camp.RingTimeout,
				Variables: map[string]string{"OUTCALL_CAMPAIGN": camp.ID, "OUTCALL_CONTACT": ct.ID}})
			if err != nil {
				return // recorded by the dialer
			}
			_, _ = h(cctx, c, campaign.Attempt{Contact: ct, Now: time.Now()}) // the handler records its result
			hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := c.Hangup(hctx, call.CauseNormal); err != nil && !errors.Is(err, call.ErrHungUp) {
				ru.p.Log.Debug().Err(err).Msg("hang up")
			}
			hcancel()
			ru.finishRecording(ct.ID)
			ru.bar.step()
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// viaRunner loads the contacts into a Redis campaign and runs it with campaign.Runner until every contact is done.
func (ru *run) viaRunner(ctx context.Context, camp campaign.Config, d call.Dialer, h campaign.Handler) error {
	camp.ID = fmt.Sprintf("%s-%d", camp.ID, time.Now().UnixNano()) // a fresh campaign per run
	r, err := campaign.NewRunner(campaign.RunnerConfig{Campaign: camp, Redis: ru.p.Redis, Dialer: d, Owner: "outbound",
		DNC: campaign.NewMemoryDNC(), Logger: ru.p.Log, Poll: 50 * time.Millisecond,
		Handler: func(ctx context.Context, c call.Call, a campaign.Attempt) (campaign.CallResult, error) {
			defer ru.bar.step()
			res, err := h(ctx, c, a)
			// Hang up here rather than leave it to the runner, so that the call's end and its recording are
			// this call's, not the campaign's.
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if herr := c.Hangup(hctx, call.CauseNormal); herr != nil && !errors.Is(herr, call.ErrHungUp) {
				ru.p.Log.Debug().Err(herr).Msg("hang up")
			}
			cancel()
			ru.finishRecording(a.Contact.ID)
			return res, err
		}})
	if err != nil {
		return err
	}
	if _, err := r.Store().Load(ctx, ru.c.Contacts, time.Now()); err != nil {
		return err
	}
	err = r.Run(ctx)
	for _, ct := range ru.c.Contacts {
		ru.finishRecording(ct.ID)
	}
	return err
}

// converse runs the dialog on a call classified as a person, after ClassifyingHandler.
func (ru *run) converse(ctx context.Context, c call.Call, a campaign.Attempt) (campaign.CallResult, error) {
	res, err := dialog.Run(ctx, c, ru.c.Script, dialog.Deps{ASR: ru.p.ASR, TTS: ru.p.TTS, Store: ru.p.Store,
		Notifier: ru.c.Notifier, LLM: ru.p.LLM, Logger: &ru.p.Log, Vars: scriptVars(a.Contact),
		Turn: dialog.TurnConfig{Detector: ru.p.VAD}})
	outcome := ru.c.Outcome(res)
	cl, _ := campaign.ClassificationFrom(ctx)
	ru.update(a.Contact.ID, func(r *Record) {
		r.Result, r.Outcome, r.Success, r.Class = &res, outcome, ru.c.Success(res), &cl
	})
	if res.Outcome.End == dialog.EndTransfer && err == nil {
		// The callee now talks with the agent: let that conversation end before the runner hangs up.
		waitEnd(ctx, c, 20*time.Second)
	}
	return campaign.CallResult{Outcome: outcome, OptOut: res.OptOut, RetryAt: res.CallbackAt,
		Data: map[string]any{"tags": res.Outcome.Tags, "slots": res.Slots}}, err
}

// waitEnd waits until the call's events end (the callee and agent hung up), at most d.
func waitEnd(ctx context.Context, c call.Call, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case _, ok := <-c.Events():
			if !ok {
				return
			}
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// recordingDialer records each attempt's dial outcome and wraps answered calls in a stereo recorder.
type recordingDialer struct {
	run *run
	mu  sync.Mutex
	rec map[string]*audio.Recorder
}

func (d *recordingDialer) Dial(ctx context.Context, r call.Request) (call.Call, error) {
	id := r.Variables["OUTCALL_CONTACT"]
	start := time.Now()
	d.run.update(id, func(rec *Record) { rec.Start = start })
	c, err := d.run.p.Dialer.Dial(ctx, r)
	o := call.OutcomeOfError(err)
	d.run.update(id, func(rec *Record) {
		rec.Dial = o
		if err != nil {
			rec.DialErr, rec.Outcome, rec.End = err, o.String(), time.Now()
		}
	})
	if err != nil {
		d.run.bar.step()
		return nil, err
	}
	if d.run.c.OutDir == "" {
		d.run.update(id, func(r *Record) { r.CallID = c.ID() })
		return c, nil
	}
	rec, rerr := audio.NewRecorder(c.Media().Format().Rate)
	if rerr != nil {
		d.run.p.Log.Warn().Err(rerr).Msg("call not recorded")
		d.run.update(id, func(r *Record) { r.CallID = c.ID() })
		return c, nil
	}
	d.mu.Lock()
	if d.rec == nil {
		d.rec = map[string]*audio.Recorder{}
	}
	d.rec[id] = rec
	d.mu.Unlock()
	d.run.update(id, func(r *Record) {
		r.CallID = c.ID()
		r.Recording = filepath.Join(d.run.c.OutDir, "recordings", safeName(id)+"_"+safeName(c.ID())+".wav")
	})
	return call.Recorded(c, rec), nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// finishRecording writes the contact's WAV, if it was recorded, and ends its record.
func (ru *run) finishRecording(id string) {
	ru.update(id, func(r *Record) {
		if r.End.IsZero() {
			r.End = time.Now()
		}
	})
	d := ru.dialer
	d.mu.Lock()
	rec := d.rec[id]
	delete(d.rec, id)
	d.mu.Unlock()
	if rec == nil {
		return
	}
	var path string
	ru.update(id, func(r *Record) { path = r.Recording })
	f, err := os.Create(path)
	if err == nil {
		err = rec.WriteWAV(f, audio.WAVPCM16)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		ru.p.Log.Warn().Err(err).Msg("recording not written")
		ru.update(id, func(r *Record) { r.Recording = "" })
	}
}
