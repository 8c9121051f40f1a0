package outbound

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/campaign"
)

// LoadContacts reads the contacts to call from a CSV file (campaign.ImportCSV: phone, id, name, tz, consent, then
// the script's variables) or, when its name ends in .jsonl or .ndjson, from JSON lines (campaign.ImportJSONL). With
// a script, each contact is checked against its variables (dialog.Script.CheckVars) before anyone is dialed.
//
// Every row that cannot be called is returned in bad with its line: a bad number, a duplicate number or id, a
// missing or ill-typed variable. err reports a file that cannot be read, is empty or holds no callable contact.
func LoadContacts(path string, s *dialog.Script) (contacts []campaign.Contact, bad []campaign.RowError, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("-contacts: %w", err)
	}
	defer f.Close()
	opt := campaign.ImportOptions{}
	if s != nil {
		opt.Check = func(c campaign.Contact) error { return s.CheckVars(scriptVars(c)) }
	}
	imp := campaign.ImportCSV
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".jsonl" || ext == ".ndjson" {
		imp = campaign.ImportJSONL
	}
	contacts, bad, err = imp(f, opt)
	switch {
	case errors.Is(err, campaign.ErrEmpty):
		return nil, nil, fmt.Errorf("-contacts %s: the file is empty; want a header row such as phone,name and one row per contact", path)
	case err != nil:
		return nil, bad, fmt.Errorf("-contacts %s: %w", path, err)
	case len(contacts) == 0 && len(bad) == 0:
		return nil, nil, fmt.Errorf("-contacts %s: no contacts in the file", path)
	case len(contacts) == 0:
		return nil, bad, fmt.Errorf("-contacts %s: none of its %d row(s) can be called:\n%s", path, len(bad), rowList(bad))
	}
	return contacts, bad, nil
}

// rowList formats bad rows one per line, for a message to the user.
func rowList(bad []campaign.RowError) string {
	lines := make([]string, len(bad))
	for i, b := range bad {
		lines[i] = "  " + b.Error()
	}
	return strings.Join(lines, "\n")
}

// scriptVars is what the script sees of a contact: its variables, and its name as "name".
func scriptVars(c campaign.Contact) map[string]any {
	vars := make(map[string]any, len(c.Vars)+1)
	for k, v := range c.Vars {
		vars[k] = v
	}
	if c.Name != "" {
		vars["name"] = c.Name
	}
	return vars
}
