package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/push"
)

// Devices is what the device routes need: push's registry of the caller's
// app installations.
type Devices interface {
	RegisterDevice(ctx context.Context, user string, in push.DeviceInput) (push.Device, error)
	Devices(user string) []push.Device
	DeleteDevice(ctx context.Context, user, id string) error
	Topics(d push.Device) []string
}

// errWriterOnly answers push routes on a lookup replica.
func errWriterOnly() error {
	return labels.Errorf(labels.EUnavailable, "devices, notifications and guardians are served by the writer replica")
}

type deviceInputJSON struct {
	Token          string    `json:"token"`
	InstallationID string    `json:"installation_id"`
	Platform       string    `json:"platform"`
	Locale         string    `json:"locale"`
	AppVersion     string    `json:"app_version"`
	OptIns         *[]string `json:"opt_ins"`
	Area           string    `json:"area"`
	AreaNumber     string    `json:"area_number"`
}

// deviceJSON shows a device; the token only by a prefix.
type deviceJSON struct {
	ID          string    `json:"id"`
	Platform    string    `json:"platform"`
	Locale      string    `json:"locale"`
	AppVersion  string    `json:"app_version,omitempty"`
	TokenPrefix string    `json:"token_prefix"`
	OptIns      []string  `json:"opt_ins"`
	Area        string    `json:"area,omitempty"`
	Topics      []string  `json:"topics"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type deviceListJSON struct {
	Devices []deviceJSON `json:"devices"`
}

func (s *Server) toDeviceJSON(d push.Device) deviceJSON {
	return deviceJSON{
		ID: d.ID, Platform: string(d.Platform), Locale: d.Locale, AppVersion: d.AppVersion, TokenPrefix: d.TokenPrefix(),
		OptIns: d.OptIns.List(), Area: d.Area, Topics: s.devices.Topics(d), CreatedAt: d.Created.UTC(), UpdatedAt: d.Updated.UTC(),
	}
}

// registerDevice answers POST /v1/devices: the caller's device, stored or
// refreshed, with the topics the app is to subscribe to.
func (s *Server) registerDevice(c *gin.Context) {
	who, ok := s.writerCaller(c, s.devices != nil)
	if !ok {
		return
	}
	var body deviceInputJSON
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	in := push.DeviceInput{
		Token: body.Token, Installation: body.InstallationID, Platform: body.Platform, Locale: body.Locale,
		AppVersion: body.AppVersion, Area: body.Area, AreaNumber: body.AreaNumber,
	}
	if body.OptIns != nil {
		o, err := push.ParseOptIns(strings.Join(*body.OptIns, ","))
		if err != nil {
			s.fail(c, err)
			return
		}
		in.OptIns = &o
	}
	d, err := s.devices.RegisterDevice(c.Request.Context(), who.ID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.toDeviceJSON(d))
}

// listDevices answers GET /v1/devices with the caller's own devices.
func (s *Server) listDevices(c *gin.Context) {
	who, ok := s.writerCaller(c, s.devices != nil)
	if !ok {
		return
	}
	out := deviceListJSON{Devices: []deviceJSON{}}
	for _, d := range s.devices.Devices(who.ID) {
		out.Devices = append(out.Devices, s.toDeviceJSON(d))
	}
	c.JSON(http.StatusOK, out)
}

// deleteDevice answers DELETE /v1/devices/{id}. Another user's device is a
// 404 like one that does not exist, so that ids cannot be probed.
func (s *Server) deleteDevice(c *gin.Context) {
	who, ok := s.writerCaller(c, s.devices != nil)
	if !ok {
		return
	}
	if err := s.devices.DeleteDevice(c.Request.Context(), who.ID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// writerCaller returns the signed-in caller of a route that only the writer
// serves (available: its push service is wired); otherwise it answers the
// error and ok is false.
func (s *Server) writerCaller(c *gin.Context, available bool) (labels.Reporter, bool) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return labels.Reporter{}, false
	}
	if !available {
		s.fail(c, errWriterOnly())
		return labels.Reporter{}, false
	}
	return who, true
}
