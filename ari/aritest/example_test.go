package aritest_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/outcall/outcall/ari/aritest"
	"github.com/outcall/outcall/pkg/callee"
)

// A simulated Asterisk with one scripted callee whose line is busy; the call is placed with plain ARI REST.
func ExampleNew() {
	srv, err := aritest.New(aritest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if err := srv.AddCallee("13800138000", callee.Script{Answer: callee.Busy}); err != nil {
		fmt.Println(err)
		return
	}
	req, _ := http.NewRequest("POST", srv.URL()+"/ari/channels?endpoint=PJSIP/13800138000@trunk&app=bot", nil)
	req.SetBasicAuth(srv.Username(), srv.Password())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		fmt.Println(err)
		return
	}
	c := srv.Calls()[0]
	fmt.Println(c.Number, c.Outcome, c.Cause, c.HungUpBy)
	// Output:
	// 200 OK
	// 13800138000 busy User busy network
}
