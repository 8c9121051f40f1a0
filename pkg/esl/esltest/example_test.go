package esltest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/outcall/outcall/pkg/callee"
	"github.com/outcall/outcall/pkg/esl"
	"github.com/outcall/outcall/pkg/esl/esltest"
)

// A fake FreeSWITCH with one scripted callee; the record tells how the call went.
func ExampleNew() {
	fs, err := esltest.New(esltest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fs.Close()
	fs.AddCallee("13900000000", callee.Script{Answer: callee.NoAnswer})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: fs.Addr()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	out, err := c.API(ctx, "originate {origination_uuid=n1,originate_timeout=1}sofia/gateway/gw/13900000000 &park()")
	fmt.Printf("%q %v\n", out, err)
	rec, _ := fs.Call("n1")
	fmt.Println(rec.Outcome, rec.HungUpBy)
	// Output:
	// "" esl: originate: -ERR NO_ANSWER
	// no-answer timeout
}
