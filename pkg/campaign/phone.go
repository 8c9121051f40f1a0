package campaign

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadNumber reports a phone number that cannot be normalised to E.164.
var ErrBadNumber = errors.New("campaign: bad phone number")

// NormalizePhone returns raw as E.164 (+<country><number>). Numbers without a country code are read in region
// ("CN", the default, or "US"): Chinese mobiles (1[3-9] + 9 digits), Chinese landlines with their trunk 0
// (010-62345678, 0755 8888 6666), North American 10-digit numbers. Spaces, dashes, dots and brackets are ignored;
// "00" and "+" prefixes are international.
func NormalizePhone(raw, region string) (string, error) {
	if region == "" {
		region = "CN"
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadNumber)
	}
	intl := false
	switch {
	case strings.HasPrefix(s, "+"):
		intl, s = true, s[1:]
	case strings.HasPrefix(s, "00"):
		intl, s = true, s[2:]
	}
	d := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", fmt.Errorf("%w: unexpected character %q", ErrBadNumber, c)
		}
	}
	n := string(d)
	if intl {
		return checkE164(n)
	}
	switch strings.ToUpper(region) {
	case "CN":
		switch {
		case strings.HasPrefix(n, "86") && len(n) == 13 && n[2] == '1':
			return checkCNMobile(n[2:])
		case len(n) == 11 && n[0] == '1':
			return checkCNMobile(n)
		case len(n) >= 10 && len(n) <= 12 && n[0] == '0' && n[1] != '0':
			return "+86" + n[1:], nil // landline: drop the trunk prefix
		}
		return "", fmt.Errorf("%w: %d digits is neither a Chinese mobile nor a landline with area code", ErrBadNumber, len(n))
	case "US", "CA", "NANP":
		if len(n) == 11 && n[0] == '1' {
			n = n[1:]
		}
		if len(n) == 10 && n[0] >= '2' && n[3] >= '2' {
			return "+1" + n, nil
		}
		return "", fmt.Errorf("%w: not a 10-digit North American number", ErrBadNumber)
	}
	return "", fmt.Errorf("%w: region %q is not supported without a country code", ErrBadNumber, region)
}

func checkCNMobile(n string) (string, error) {
	if len(n) != 11 || n[0] != '1' || n[1] < '3' || n[1] > '9' {
		return "", fmt.Errorf("%w: not a Chinese mobile number", ErrBadNumber)
	}
	return "+86" + n, nil
}

func checkE164(n string) (string, error) {
	if len(n) < 8 || len(n) > 15 || n[0] == '0' {
		return "", fmt.Errorf("%w: international numbers have 8 to 15 digits and no leading 0", ErrBadNumber)
	}
	if strings.HasPrefix(n, "86") && len(n) == 13 && n[2] == '1' {
		return checkCNMobile(n[2:])
	}
	if strings.HasPrefix(n, "1") && len(n) != 11 {
		return "", fmt.Errorf("%w: +1 numbers have 10 digits after the country code", ErrBadNumber)
	}
	return "+" + n, nil
}

// MaskPhone keeps the country code and the last four digits: +86*******8000. For logs and reports.
func MaskPhone(e164 string) string {
	if len(e164) < 8 {
		return "****"
	}
	cc := 2
	if strings.HasPrefix(e164, "+86") {
		cc = 3
	}
	return e164[:cc] + strings.Repeat("*", len(e164)-cc-4) + e164[len(e164)-4:]
}
