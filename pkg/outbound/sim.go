package outbound

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/pkg/call"
	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// Simulator is the built-in PBX the calls reach when no real one is configured: the Asterisk simulator (aritest)
// or the FreeSWITCH fake (esltest). Programs see only what they use of it, so they run on either.
type Simulator interface {
	// AddCallee makes number (digits, no "+") answer with the script.
	AddCallee(number string, s callee.Script) error
	// Endpoint returns a dial string this simulator resolves to the number ep reaches (see Platform.AddCallee), for
	// scripts written with another PBX's dial strings (a transfer to PJSIP/agent@trunk).
	Endpoint(ep string) string
	// String names the simulator and its address.
	String() string
}

// asteriskSim is aritest behind Simulator.
type asteriskSim struct{ *aritest.Server }

func (s asteriskSim) Endpoint(ep string) string { return ep }

func (s asteriskSim) String() string {
	return "embedded Asterisk simulator (aritest) on " + strings.TrimPrefix(s.URL(), "http://")
}

// freeswitchSim is esltest behind Simulator. esltest runs no dialplan: settle ends the channels a transfer sent to
// one, as the queue they went to eventually would.
type freeswitchSim struct {
	fs     *esltest.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// fsGateway is the gateway the simulator's dial strings name; esltest answers on any gateway.
const fsGateway = "sofia/gateway/trunk/"

// settleEvery is how often freeswitchSim looks for calls to end on FreeSWITCH's behalf.
const settleEvery = 50 * time.Millisecond

func newFreeSWITCHSim(fs *esltest.Server) *freeswitchSim {
	ctx, cancel := context.WithCancel(context.Background())
	s := &freeswitchSim{fs: fs, cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(settleEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.settle()
			case <-ctx.Done():
				return
			}
		}
	}()
	return s
}

func (s *freeswitchSim) AddCallee(number string, sc callee.Script) error {
	s.fs.AddCallee(number, sc)
	return nil
}

func (s *freeswitchSim) Endpoint(ep string) string {
	if fakeFSDials(ep) {
		return ep
	}
	return fsGateway + endpointNumber(ep)
}

func (s *freeswitchSim) String() string { return "FreeSWITCH simulator (esltest) on " + s.fs.Addr() }

// Close stops settling and then the fake.
func (s *freeswitchSim) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.fs.Close()
}

// settle ends the calls FreeSWITCH would end and esltest leaves up: a channel uuid_transfer'd to a dialplan
// extension (Transfer "exten XML context") has left the application for the agents' queue, which the fake does not
// run. The driver has already ended the call for the application; the channel ends here so its callee stops.
// (Bridged legs end together in esltest itself.)
func (s *freeswitchSim) settle() {
	for _, c := range s.fs.Calls() {
		if c.End.IsZero() && strings.Contains(c.Transfer, " ") {
			_ = s.fs.Hangup(c.ID, call.CauseNormal)
		}
	}
}
