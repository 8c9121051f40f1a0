package rtp_test

import (
	"fmt"
	"net"

	"github.com/outcall/outcall/pkg/rtp"
)

// One Transport carries every call: each remote endpoint is registered with its payload type and handler, and
// packets of many streams go out in one batch.
func ExampleListen() {
	tr, err := rtp.Listen(rtp.TransportConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer tr.Close()

	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	defer peer.Close()
	got := make(chan int, 1)
	stream, err := tr.Register(peer.LocalAddr().(*net.UDPAddr).AddrPort(), 0, func(p *rtp.Packet) {
		got <- len(p.Payload)
	})
	if err != nil {
		panic(err)
	}

	seq := rtp.NewSequencer(0) // PCMU
	pkt := seq.Append(nil, make([]byte, 160), 160)
	if _, err := tr.SendBatch([]rtp.Outgoing{{Peer: stream, Data: pkt}}); err != nil {
		panic(err)
	}
	buf := make([]byte, 1500)
	n, _, _ := peer.ReadFromUDP(buf)
	var p rtp.Packet
	if _, err := p.Unmarshal(buf[:n]); err != nil {
		panic(err)
	}
	fmt.Println("peer got PT", p.PayloadType, "with", len(p.Payload), "bytes")

	_, _ = peer.WriteToUDP(buf[:n], net.UDPAddrFromAddrPort(tr.LocalAddr()))
	fmt.Println("handler got", <-got, "bytes")
	// Output:
	// peer got PT 0 with 160 bytes
	// handler got 160 bytes
}
