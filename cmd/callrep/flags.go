package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/callrep/callrep/labels"
)

// durationValue is a duration flag that refuses values below its minimum
// (zero allowed or not): an interval of 0s would rebuild in a busy loop.
type durationValue struct {
	d      *time.Duration
	zeroOK bool
}

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("not a duration such as 90s, 10m or 24h")
	case d < 0 || d == 0 && !v.zeroOK:
		if v.zeroOK {
			return errors.New("must not be negative")
		}
		return errors.New("must be positive")
	}
	*v.d = d
	return nil
}

// positiveDuration defines a duration flag that must be above zero.
func positiveDuration(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationValue{d: p}, name, usage)
}

// nonNegativeDuration defines a duration flag where 0 means something
// (no ramp, no bound) and only negative values are refused.
func nonNegativeDuration(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationValue{d: p, zeroOK: true}, name, usage)
}

// regionValue is a region flag that takes only known ISO 3166 codes.
type regionValue struct{ s *string }

func (v regionValue) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}

func (v regionValue) Set(s string) error {
	up, err := labels.CanonicalRegion(s)
	if err != nil {
		return errors.New(labels.ErrorMessage(err))
	}
	*v.s = up
	return nil
}

// addressValue is a listen address flag: host:port, the host possibly
// empty (every interface), the port a number (0 picks a free one).
type addressValue struct{ s *string }

func (v addressValue) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}

func (v addressValue) Set(s string) error {
	if err := checkAddress(s); err != nil {
		return err
	}
	*v.s = s
	return nil
}

// addressFlag defines a listen address flag; "" is accepted as off.
func addressFlag(fs *flag.FlagSet, name, value, usage string) *string {
	p := new(string)
	*p = value
	fs.Var(addressValue{s: p}, name, usage)
	return p
}

func checkAddress(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("not a host:port address such as 127.0.0.1:8080 or :8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// parseFlags parses args into fs. The flag package's own output is
// silenced: an error is returned once, as a usage error (exit 2) that
// names the flag, and -h prints the flags to fs's output.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return usageError{err.Error()}
	}
	return nil
}
