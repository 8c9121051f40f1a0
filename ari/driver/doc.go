// Package driver places calls through Asterisk: Driver implements call.Dialer on top of a started ari.Client,
// answers with a call.Call whose media runs over ExternalMedia RTP (one shared, batched UDP socket), AudioSocket
// (a TCP connection per call) or chan_websocket (a WebSocket per call). Every transport hands received audio to
// the same audio.Receiver (jitter buffer, pacer, frame channel) and sends through one shared playout clock.
//
//	client, _ := ari.New(ari.Config{URL: "http://127.0.0.1:8088", Username: "u", Password: "p", App: "bot"})
//	_ = client.Start(ctx)
//	drv, _ := driver.New(client, driver.Config{Transport: driver.TransportRTP})
//	c, err := drv.Dial(ctx, call.Request{Endpoint: "PJSIP/1000@trunk"})
package driver
