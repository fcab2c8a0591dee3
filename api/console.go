package api

import (
	"embed"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
)

// consoleFiles are the moderation console's assets, embedded in the
// binary: the console works offline and loads nothing from elsewhere.
//
//go:embed console/index.html console/console.js console/console.css
var consoleFiles embed.FS

// consoleTypes are the content types of the console's assets by extension.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// consolePolicy lets the console load its own assets and call the API on
// its own origin, nothing else; no inline script runs.
const consolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// consolePage answers GET /console. The page itself holds no data: it
// signs in with a moderator token that stays in the browser tab, and every
// call goes through the moderator routes, which check the token.
func (s *Server) consolePage(c *gin.Context) { s.serveConsole(c, "index.html") }

// consoleAsset answers GET /console/{file}.
func (s *Server) consoleAsset(c *gin.Context) {
	name := c.Param("file")
	if name == "index.html" {
		name = "" // the page has one address
	}
	s.serveConsole(c, name)
}

func (s *Server) serveConsole(c *gin.Context, name string) {
	ctype, ok := consoleTypes[path.Ext(name)]
	b, err := consoleFiles.ReadFile("console/" + name)
	if !ok || err != nil {
		s.fail(c, labels.Errorf(labels.ENotFound, "no such console file"))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", consolePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ctype, b)
}
