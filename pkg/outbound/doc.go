// Package outbound is the application layer of an outbound-call program: it reads the deployment from the
// environment, opens the PBX, store, speech and model providers it names, calls a list of contacts through the
// call script, records each call in stereo, and prints and reports the outcome. The examples are short programs on
// it; copy one and edit its script.
//
// The whole API:
//
//	env, err := outbound.FromEnv()          // the environment contract (Env); outbound.Simulated(pbx): nothing set
//	p, err := outbound.Open(ctx, env, log)  // *Platform: Dialer, ASR, TTS, Store, Redis, LLM, Sim; checks each; Close
//	p.AddCallee(number, outbound.Person("喂?", "可以"))  // simulated callees: Person, Machine, Busy, Reply
//	contacts, bad, err := outbound.LoadContacts("contacts.csv", script)  // CSV or JSONL, checked against the script
//	recs, err := outbound.Run(ctx, p, outbound.Campaign{Script: script, Contacts: contacts, OutDir: "out"})
//	outbound.Print(os.Stdout, recs)          // transcripts and a summary table
//	report.Write("out", outbound.Report("id", "title", recs))
//
//	outbound.App{Name: ..., Script: ..., Contacts: ..., Callees: ...}.Main()  // all of the above as a command
//
// Run classifies each answer (person, machine, fax, carrier announcement) with campaign.ClassifyingHandler, runs
// dialog.Run for a person, waits for a transferred call to end and names the outcome in one word
// (DefaultOutcome). With REDIS_URL the contacts go through campaign.Runner (leases, gates, pacing, retries across
// processes); otherwise this process dials them itself. A Notifier carries out the script's notifications as
// signed webhooks (to WEBHOOK_URL, or to a receiver in the process that verifies and prints them).
//
// Phone numbers never leave the process in clear: contact ids default to line or position numbers, transcripts,
// tables and reports show numbers masked, and key presses and the script's sensitive slots are starred.
package outbound
