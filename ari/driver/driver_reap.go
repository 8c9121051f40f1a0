package driver

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/outcall/outcall/ari"
)

// Call ids chosen by the caller (call.Request.ID) name the originated Local channel pair "<id>-a" and "<id>-b".
var callIDRE = regexp.MustCompile(`^[A-Za-z0-9._\-]{1,100}$`)

func callChannelIDs(callID string) (string, string) { return callID + "-a", callID + "-b" }

// The call's bridge and external-media channel are named after its channel too ("<id>-br", "<id>-em"), so that
// HangupCall can end them: Asterisk keeps a dead process's media channel up otherwise.
func callBridgeID(chanID string) string { return strings.TrimSuffix(chanID, "-a") + "-br" }
func callMediaID(chanID string) string  { return strings.TrimSuffix(chanID, "-a") + "-em" }

// HangupCall ends the call that was dialed with call.Request.ID callID, from any process connected to the same
// Asterisk: a campaign uses it to end the call of a process that died mid-call before dialing the number again. A
// call that no longer exists is not an error.
func (d *Driver) HangupCall(ctx context.Context, callID string) error {
	if !callIDRE.MatchString(callID) {
		return fmt.Errorf("ari: HangupCall: call id %q has characters Asterisk refuses in ids", callID)
	}
	var errs []error
	a, b := callChannelIDs(callID)
	for _, id := range []string{a, b, callMediaID(a)} {
		if err := d.c.Hangup(ctx, id, "normal"); err != nil && !errors.Is(err, ari.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if err := d.c.DestroyBridge(ctx, callBridgeID(a)); err != nil && !errors.Is(err, ari.ErrNotFound) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
