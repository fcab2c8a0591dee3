package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Platform is the operating system of a device.
type Platform string

// The platforms FCM delivers to for callrep.
const (
	Android Platform = "android"
	IOS     Platform = "ios"
)

// OptIns say which kinds of warning a device wants.
type OptIns struct {
	// Retro: warnings about numbers looked up or reported earlier that
	// are flagged later. Only opted-in users' lookups are recorded.
	Retro bool
	// Guardian: alerts about the people this user is a guardian of.
	Guardian bool
	// Filters: refresh messages on the filter topics.
	Filters bool
	// Waves: regional fraud waves in the device's area.
	Waves bool
}

// AllOptIns opts in to every kind.
func AllOptIns() OptIns { return OptIns{Retro: true, Guardian: true, Filters: true, Waves: true} }

// OptInNames are the names of the opt-ins, as the API and flags spell them.
var OptInNames = []string{"retro", "guardian", "filters", "waves"}

func (o OptIns) list() []string {
	var out []string
	for i, on := range []bool{o.Retro, o.Guardian, o.Filters, o.Waves} {
		if on {
			out = append(out, OptInNames[i])
		}
	}
	return out
}

// List returns the names of the kinds opted in to.
func (o OptIns) List() []string { return append([]string{}, o.list()...) }

func optInsOf(names []string) OptIns {
	return OptIns{
		Retro: slices.Contains(names, "retro"), Guardian: slices.Contains(names, "guardian"),
		Filters: slices.Contains(names, "filters"), Waves: slices.Contains(names, "waves"),
	}
}

// ParseOptIns reads a comma-separated list of opt-in names.
func ParseOptIns(s string) (OptIns, error) {
	var names []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(OptInNames, n) {
			return OptIns{}, labels.Errorf(labels.EInvalid, "opt-in %q is not one of %v", n, OptInNames)
		}
		names = append(names, n)
	}
	return optInsOf(names), nil
}

// Device is one app installation that receives warnings.
type Device struct {
	// ID is derived from the user and the installation, so that a
	// refreshed token for the same installation replaces the old one.
	ID           string
	User         string
	Installation string
	// Token is the FCM registration token: a secret, never logged or
	// returned whole.
	Token      string
	Platform   Platform
	Locale     string
	AppVersion string
	OptIns     OptIns
	// Area is the id of the device's home area for regional waves; "" if
	// none.
	Area    string
	Created time.Time
	Updated time.Time
}

// TokenPrefix is as much of the token as may be shown: enough to tell
// devices apart, not enough to push to one.
func (d Device) TokenPrefix() string { return redact(d.Token) }

// DeviceInput is a registration as the app sends it.
type DeviceInput struct {
	Token        string
	Installation string
	Platform     string
	Locale       string
	AppVersion   string
	// OptIns are the kinds the device wants; nil takes the configured
	// defaults.
	OptIns *OptIns
	// Area is an area id the user picked; AreaNumber a phone number
	// (the verified number of the account) whose area to take.
	Area       string
	AreaNumber string
}

// Limits on registrations. FCM tokens are about 160 bytes today; 4096 is
// room for change without room for abuse.
const (
	maxTokenLen        = 4096
	maxInstallationLen = 128
	maxAppVersionLen   = 64
	maxDevicesPerUser  = 10
)

func deviceID(user, installation string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + installation))
	return "dev_" + hex.EncodeToString(sum[:10])
}

// RegisterDevice stores or refreshes a device of user. A registration that
// changes nothing writes nothing.
func (s *Service) RegisterDevice(ctx context.Context, user string, in DeviceInput) (Device, error) {
	switch {
	case in.Token == "" || len(in.Token) > maxTokenLen || strings.ContainsAny(in.Token, " \t\r\n"):
		return Device{}, labels.Errorf(labels.EInvalid, "token must be an FCM registration token")
	case in.Installation == "" || len(in.Installation) > maxInstallationLen || !utf8.ValidString(in.Installation):
		return Device{}, labels.Errorf(labels.EInvalid, "installation_id must be 1 to %d characters", maxInstallationLen)
	case in.Platform != string(Android) && in.Platform != string(IOS):
		return Device{}, labels.Errorf(labels.EInvalid, "platform must be android or ios")
	case len(in.AppVersion) > maxAppVersionLen:
		return Device{}, labels.Errorf(labels.EInvalid, "app_version must be at most %d characters", maxAppVersionLen)
	case in.Area != "" && in.AreaNumber != "":
		return Device{}, labels.Errorf(labels.EInvalid, "send area or area_number, not both")
	case in.Area != "" && !validAreaID(in.Area):
		return Device{}, labels.Errorf(labels.EInvalid, "area must be an area id such as cn-quanzhou-fujian")
	}
	area := in.Area
	if in.AreaNumber != "" {
		n, err := labels.NormalizeKey(in.AreaNumber, "", s.cfg.Region)
		if err != nil {
			return Device{}, err
		}
		a, ok := AreaOf(n.E164)
		if !ok {
			return Device{}, labels.Errorf(labels.EInvalid, "area_number has no known area")
		}
		area = a.ID
	}
	opt := s.cfg.OptIns
	if in.OptIns != nil {
		opt = *in.OptIns
	}
	now := s.cfg.Now()
	d := Device{
		ID: deviceID(user, in.Installation), User: user, Installation: in.Installation, Token: in.Token,
		Platform: Platform(in.Platform), Locale: MatchLocale(in.Locale), AppVersion: in.AppVersion,
		OptIns: opt, Area: area, Created: now, Updated: now,
	}
	s.mu.Lock()
	old := s.devices[d.ID]
	if old != nil {
		d.Created = old.Created
		same := *old
		same.Updated = now
		if same == d {
			s.mu.Unlock()
			return *old, nil
		}
	} else if len(s.byUser[user]) >= maxDevicesPerUser {
		s.mu.Unlock()
		return Device{}, labels.Errorf(labels.EConflict, "at most %d devices per user; delete one first", maxDevicesPerUser)
	}
	// A token moves with the phone: if another user's registration holds
	// it, that one is stale, and keeping it would send this user's
	// warnings to the other.
	var stale []string
	for _, other := range s.devices {
		if other.Token == d.Token && other.ID != d.ID {
			stale = append(stale, other.ID)
		}
	}
	s.mu.Unlock()
	if err := s.st.PutDevice(ctx, d); err != nil {
		return Device{}, err
	}
	if len(stale) > 0 {
		if _, err := s.st.DeleteDevices(ctx, stale); err != nil {
			return Device{}, err
		}
	}
	s.mu.Lock()
	for _, id := range stale {
		s.removeDeviceLocked(id)
	}
	s.removeDeviceLocked(d.ID)
	s.addDeviceLocked(&d)
	s.mu.Unlock()
	return d, nil
}

func (s *Service) addDeviceLocked(d *Device) {
	s.devices[d.ID] = d
	s.byUser[d.User] = append(s.byUser[d.User], d.ID)
}

func (s *Service) removeDeviceLocked(id string) *Device {
	d := s.devices[id]
	if d == nil {
		return nil
	}
	delete(s.devices, id)
	ids := slices.DeleteFunc(s.byUser[d.User], func(x string) bool { return x == id })
	if len(ids) == 0 {
		delete(s.byUser, d.User)
	} else {
		s.byUser[d.User] = ids
	}
	return d
}

// Devices returns user's devices, oldest first.
func (s *Service) Devices(user string) []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Device
	for _, id := range s.byUser[user] {
		out = append(out, *s.devices[id])
	}
	slices.SortFunc(out, func(a, b Device) int { return a.Created.Compare(b.Created) })
	return out
}

// DeleteDevice removes user's device id. Another user's device is not
// found, exactly as a device that does not exist.
func (s *Service) DeleteDevice(ctx context.Context, user, id string) error {
	s.mu.Lock()
	d := s.devices[id]
	s.mu.Unlock()
	if d == nil || d.User != user {
		return labels.Errorf(labels.ENotFound, "no such device")
	}
	if _, err := s.st.DeleteDevices(ctx, []string{id}); err != nil {
		return err
	}
	s.mu.Lock()
	s.removeDeviceLocked(id)
	s.mu.Unlock()
	return nil
}

// Topics are the FCM topics a device subscribes itself to: the filter
// topics and its area's waves, by its opt-ins. Topics carry nothing
// personal: everyone with the same filters or area gets the same message.
func (s *Service) Topics(d Device) []string {
	out := []string{}
	if d.OptIns.Filters {
		for _, name := range reputation.PublicLists {
			out = append(out, FilterTopic(name))
		}
	}
	if d.OptIns.Waves && d.Area != "" {
		out = append(out, AreaTopic(d.Area, d.Locale))
	}
	return out
}

// pruneDevices forgets devices whose tokens FCM says are dead.
func (s *Service) pruneDevices(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	for _, id := range ids {
		s.removeDeviceLocked(id)
	}
	s.mu.Unlock()
	n, err := s.st.DeleteDevices(ctx, ids)
	if err != nil {
		s.log.Warn("push: deleting dead device tokens", "devices", len(ids), "err", err)
		return
	}
	s.m.pruned.Add(float64(n))
}
