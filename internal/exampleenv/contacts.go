package exampleenv

import (
	"fmt"
	"os"

	"github.com/outcall/outcall/pkg/campaign"
)

// LoadContacts reads a contacts CSV (see campaign.ImportCSV: phone, id, name, tz, consent, then script variables).
// A row that does not import is an error naming its line.
func LoadContacts(path string) ([]campaign.Contact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-contacts: %w", err)
	}
	defer f.Close()
	cs, bad, err := campaign.ImportCSV(f, campaign.ImportOptions{})
	if err != nil {
		return nil, fmt.Errorf("-contacts %s: %w", path, err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("-contacts %s: %d bad row(s), first: %v", path, len(bad), bad[0])
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("-contacts %s: no contacts", path)
	}
	return cs, nil
}
