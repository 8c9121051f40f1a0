package campaign

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// ContactResult is one contact's summary for export: its final state and its attempts.
type ContactResult struct {
	ID       string          `json:"id"`
	Phone    string          `json:"phone"` // masked unless ExportOptions.ClearNumbers
	Status   string          `json:"status"`
	Outcome  string          `json:"outcome"`
	Attempts int             `json:"attempts"`
	Last     json.RawMessage `json:"last,omitempty"` // the last attempt's result: call id, durations, dialog data
	History  []string        `json:"history"`        // every attempt's outcome, in order
}

// ExportOptions tune Export.
type ExportOptions struct {
	Format       string // "csv" or "jsonl"; default: "csv"
	ClearNumbers bool   // write phone numbers in clear (for an authorised export); default: masked
}

// Export writes every contact's result, ordered by id.
func (s *Store) Export(ctx context.Context, w io.Writer, opt ExportOptions) error {
	rows, err := s.ContactResults(ctx, opt.ClearNumbers)
	if err != nil {
		return err
	}
	switch opt.Format {
	case "", "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"id", "phone", "status", "outcome", "attempts", "history", "last"})
		for _, r := range rows {
			hist, _ := json.Marshal(r.History)
			_ = cw.Write([]string{r.ID, r.Phone, r.Status, r.Outcome, strconv.Itoa(r.Attempts), string(hist), string(r.Last)})
		}
		cw.Flush()
		return cw.Error()
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("campaign: export format %q: want csv or jsonl", opt.Format)
}

// ContactResults reads every contact's summary.
func (s *Store) ContactResults(ctx context.Context, clearNumbers bool) ([]ContactResult, error) {
	ids, err := s.rdb.SMembers(ctx, s.k.all).Result()
	if err != nil {
		return nil, fmt.Errorf("campaign: export: %w", err)
	}
	sort.Strings(ids)
	results, err := s.Results(ctx)
	if err != nil {
		return nil, err
	}
	hist := map[string][]ResultEntry{}
	for _, r := range results {
		hist[r.Contact] = append(hist[r.Contact], r)
	}
	out := make([]ContactResult, 0, len(ids))
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		pipe := s.rdb.Pipeline()
		cmds := make([]interface{ Val() map[string]string }, len(batch))
		for i, id := range batch {
			cmds[i] = pipe.HGetAll(ctx, s.k.prefix+id)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("campaign: export: %w", err)
		}
		for i, id := range batch {
			h := cmds[i].Val()
			var c Contact
			_ = json.Unmarshal([]byte(h["contact"]), &c)
			r := ContactResult{ID: id, Phone: c.Phone, Status: h["status"], Outcome: h["outcome"]}
			if !clearNumbers {
				r.Phone = MaskPhone(c.Phone)
			}
			r.Attempts, _ = strconv.Atoi(h["attempts"])
			for _, e := range hist[id] {
				r.History = append(r.History, e.Outcome)
				if e.Result != nil {
					r.Last = e.Result
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}
