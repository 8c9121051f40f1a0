// Package esl drives FreeSWITCH through its event socket: framing, an inbound client, an outbound server and a call driver.
package esl
