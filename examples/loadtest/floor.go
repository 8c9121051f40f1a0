package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// floorResult is one rtpfloor measurement: the bare cost of carrying n calls' RTP on one batched socket.
type floorResult struct {
	Cores     float64
	UsPerCall float64
	Command   string
}

var floorLine = regexp.MustCompile(`cpu=([0-9.]+) cores \(([0-9.]+) µs CPU per call-second\)`)

// runFloor runs rtpfloor's batchbot and a single-socket peer for n streams (the tool in
// /work/shared/tools/rtpfloor: build it with `go build -o /tmp/rtpfloor .`) and parses the bot's CPU.
func runFloor(ctx context.Context, bin string, n int, d time.Duration) (floorResult, error) {
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return floorResult{}, err
	}
	port := strconv.Itoa(l.LocalAddr().(*net.UDPAddr).Port)
	_ = l.Close()
	botArgs := []string{"-mode", "batchbot", "-n", strconv.Itoa(n), "-base", port, "-for", d.String()}
	peerArgs := []string{"-mode", "peer", "-single", "-n", strconv.Itoa(n), "-base", port, "-for", (d - time.Second).String()}
	cmdline := fmt.Sprintf("%s %s & %s %s", bin, strings.Join(botArgs, " "), bin, strings.Join(peerArgs, " "))
	var out bytes.Buffer
	bot := exec.CommandContext(ctx, bin, botArgs...)
	bot.Stdout = &out
	dieWithParent(bot)
	if err := bot.Start(); err != nil {
		return floorResult{}, fmt.Errorf("loadtest: rtpfloor: %w", err)
	}
	time.Sleep(200 * time.Millisecond) // let the bot bind
	peer := exec.CommandContext(ctx, bin, peerArgs...)
	dieWithParent(peer)
	perr := peer.Run()
	berr := bot.Wait()
	if perr != nil || berr != nil {
		return floorResult{}, fmt.Errorf("loadtest: rtpfloor: peer %v, bot %v", perr, berr)
	}
	m := floorLine.FindStringSubmatch(out.String())
	if m == nil {
		return floorResult{}, fmt.Errorf("loadtest: rtpfloor printed %q", out.String())
	}
	cores, _ := strconv.ParseFloat(m[1], 64)
	per, _ := strconv.ParseFloat(m[2], 64)
	return floorResult{Cores: cores, UsPerCall: per, Command: cmdline}, nil
}
