package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/outcall/outcall/ari"
)

// workload is what every client of the comparison does, whatever its language: N calls, C at a time, each an
// originate of Endpoint into the Stasis application App, a wait for its StasisStart, and a hang-up.
type workload struct {
	URL, User, Pass, App, Endpoint string
	N, C                           int
	CallTimeout                    time.Duration
}

// clientResult is the JSON line every client prints when its calls are done; the Node and CyCoreSystems programs
// print the same fields.
type clientResult struct {
	Client   string  `json:"client"`
	N        int     `json:"n"`
	C        int     `json:"c"`
	OK       int     `json:"ok"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	WallS    float64 `json:"wall_s"` // first originate to last hang-up answered
	CPUS     float64 `json:"cpu_s"`  // the client process's CPU (user+system) over the same span
	LatUs    []int64 `json:"lat_us"` // originate request sent → StasisStart received, per successful call
}

// oneCall places one call and returns its set-up latency.
type oneCall func(ctx context.Context) (time.Duration, error)

// drive runs w.N calls through call, w.C at a time, and measures them.
func drive(name string, w workload, call oneCall) clientResult {
	res := clientResult{Client: name, N: w.N, C: w.C}
	jobs := make(chan struct{}, w.N)
	for range w.N {
		jobs <- struct{}{}
	}
	close(jobs)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	cpu0, t0 := processCPU(), time.Now()
	for range w.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				ctx, cancel := context.WithTimeout(context.Background(), w.CallTimeout)
				lat, err := call(ctx)
				cancel()
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					res.OK++
					res.LatUs = append(res.LatUs, lat.Microseconds())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.WallS = time.Since(t0).Seconds()
	res.CPUS = (processCPU() - cpu0).Seconds()
	sort.Slice(res.LatUs, func(i, j int) bool { return res.LatUs[i] < res.LatUs[j] })
	return res
}

// runOurs is the workload on this project's ari.Client with its defaults: one subscription per call on the
// channel id chosen before the originate (the documented way not to miss the first event).
func runOurs(ctx context.Context, w workload) (clientResult, error) {
	cl, err := ari.New(ari.Config{URL: w.URL, Username: w.User, Password: w.Pass, App: w.App})
	if err != nil {
		return clientResult{}, err
	}
	if err := cl.Start(ctx); err != nil {
		return clientResult{}, fmt.Errorf("ari start: %w", err)
	}
	defer cl.Close()
	return drive("outcall/ari", w, func(ctx context.Context) (time.Duration, error) {
		id := ari.NewID("bench")
		sub := cl.SubscribeSize(8, id)
		defer sub.Close()
		t0 := time.Now()
		if _, err := cl.Originate(ctx, ari.OriginateParams{Endpoint: w.Endpoint, ChannelID: id}); err != nil {
			return 0, err
		}
		lat, err := waitStasisStart(ctx, sub, t0)
		if herr := cl.Hangup(context.WithoutCancel(ctx), id, ""); err == nil && herr != nil {
			err = fmt.Errorf("hangup: %w", herr)
		}
		return lat, err
	}), nil
}

var errSubClosed = errors.New("subscription closed before StasisStart")

func waitStasisStart(ctx context.Context, sub *ari.Subscription, t0 time.Time) (time.Duration, error) {
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return 0, errSubClosed
			}
			switch ev.Type() {
			case "StasisStart":
				return time.Since(t0), nil
			case "ChannelDestroyed", "StasisEnd":
				return 0, fmt.Errorf("%s before StasisStart", ev.Type())
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("no StasisStart: %w", ctx.Err())
		}
	}
}
