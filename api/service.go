package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/callrep/callrep/docs"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/openapi"
)

// readyTimeout bounds the readiness check, so that a hanging database makes
// /readyz fail rather than hang the load balancer's probe.
const readyTimeout = 5 * time.Second

type healthJSON struct {
	Status string `json:"status"`
}

type readinessJSON struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) health(c *gin.Context) {
	c.JSON(http.StatusOK, healthJSON{Status: "ok"})
}

// readiness is 200 only while Config.Ready passes: storage reachable and
// the in-memory state loaded. The cause of a failure is logged, not shown:
// the route is open to anyone.
func (s *Server) readiness(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		c.Header("Retry-After", retryAfterSeconds(unavailableRetry))
		c.JSON(http.StatusServiceUnavailable, readinessJSON{Status: "not_ready", Checks: map[string]string{"storage": "failing"}})
		return
	}
	c.JSON(http.StatusOK, readinessJSON{Status: "ready", Checks: map[string]string{"storage": "ok"}})
}

func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openapi.Spec())
}

func (s *Server) docsHandler(c *gin.Context) {
	c.Data(http.StatusOK, "text/html; charset=utf-8", s.docs)
}

// phoneContract answers GET /docs/phone-contract.md: what a phone needs
// besides this API (keys, filter files, sync, exports), as Markdown.
func (s *Server) phoneContract(c *gin.Context) {
	c.Data(http.StatusOK, "text/markdown; charset=utf-8", docs.PhoneContract)
}

// docsPage renders the docs once at start, so that a broken document
// stops the server from starting rather than failing on first view.
func docsPage() ([]byte, error) {
	page, err := openapi.DocsHTML()
	if err != nil {
		return nil, fmt.Errorf("api: unable to render docs: %w", err)
	}
	return page, nil
}

// defaultLanguage is the language of category names when the caller asks
// for none or for one there are no texts in.
const defaultLanguage = "en"

// maxLangLen is the longest lang parameter accepted, as documented.
const maxLangLen = 35

// languages lists the languages of category texts, the default first.
var languages = func() []string {
	langs := labels.Languages()
	if i := slices.Index(langs, defaultLanguage); i > 0 {
		langs = slices.Insert(slices.Delete(langs, i, i+1), 0, defaultLanguage)
	}
	return langs
}()

// langMatcher picks the closest supported language: zh-TW and zh-HK get
// Traditional Chinese, zh and zh-CN Simplified.
var langMatcher = func() language.Matcher {
	tags := make([]language.Tag, len(languages))
	for i, l := range languages {
		tags[i] = language.Make(l)
	}
	return language.NewMatcher(tags)
}()

// matchLanguage returns the supported language for a requested tag, or the
// default language.
func matchLanguage(lang string) string {
	if lang == "" {
		return languages[0]
	}
	tag, err := language.Parse(lang)
	if err != nil {
		return languages[0]
	}
	_, i, conf := langMatcher.Match(tag)
	if conf == language.No {
		return languages[0]
	}
	return languages[i]
}

type categoryJSON struct {
	ID          string            `json:"id"`
	Risk        string            `json:"risk"`
	Name        string            `json:"name"`
	Names       map[string]string `json:"names"`
	Description string            `json:"description"`
}

type categoryListJSON struct {
	Categories []categoryJSON `json:"categories"`
	Languages  []string       `json:"languages"`
}

func (s *Server) listCategories(c *gin.Context) {
	lang := c.Query("lang")
	if len(lang) > maxLangLen {
		s.fail(c, labels.Errorf(labels.EInvalid, "lang must be a language tag of at most %d characters", maxLangLen))
		return
	}
	lang = matchLanguage(lang)
	cats := labels.Categories()
	out := categoryListJSON{Categories: make([]categoryJSON, 0, len(cats)), Languages: languages}
	for _, cat := range cats {
		out.Categories = append(out.Categories, categoryJSON{
			ID:          cat.ID,
			Risk:        string(cat.Risk),
			Name:        textIn(cat.Names, lang),
			Names:       cat.Names,
			Description: textIn(cat.Description, lang),
		})
	}
	c.JSON(http.StatusOK, out)
}

// textIn returns the text for lang, else for the default language.
func textIn(texts map[string]string, lang string) string {
	if t := texts[lang]; t != "" {
		return t
	}
	return texts[defaultLanguage]
}
