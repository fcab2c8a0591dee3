// Package openapi holds the OpenAPI 3 description of callrep's HTTP API. The
// document is embedded so that a binary serves exactly the description its
// tests were checked against; the package also renders it as an HTML page and
// offers a Validator with which HTTP tests check real responses against it.
package openapi

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

//go:embed openapi.yaml
var spec []byte

// Spec returns the OpenAPI document as YAML, as served at /openapi.yaml. The
// slice is a copy the caller may keep or modify.
func Spec() []byte {
	return bytes.Clone(spec)
}

var loadOnce = sync.OnceValues(func() (*openapi3.T, error) { return parse(false) })

// Load returns the OpenAPI document parsed and validated. It is parsed once;
// every caller shares the result, which must therefore not be modified.
func Load() (*openapi3.T, error) {
	return loadOnce()
}

// parse parses and validates a fresh copy of the embedded document. With
// origin set, it records where each element sits in the YAML, which the docs
// page uses to keep the document's order of paths and properties.
func parse(origin bool) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IncludeOrigin = origin
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapi: unable to parse spec: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi: invalid spec: %w", err)
	}
	return doc, nil
}

// Paths returns the paths of the document in OpenAPI form, such as
// /v1/numbers/{number}, sorted. It panics if the embedded document is
// invalid, which the package's own tests rule out.
func Paths() []string {
	doc, err := Load()
	if err != nil {
		panic(err)
	}
	paths := make([]string, 0, doc.Paths.Len())
	for path := range doc.Paths.Map() {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return paths
}

// Validator checks HTTP responses against the document. It is meant for tests
// of the packages that serve the API; it is safe for concurrent use.
type Validator struct {
	router routers.Router
}

// NewValidator returns a Validator over its own copy of the document. The
// copy has no servers, so that requests match by path whatever their host,
// including the random loopback ports of test servers.
func NewValidator() (*Validator, error) {
	doc, err := parse(false)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: unable to build router: %w", err)
	}
	return &Validator{router: router}, nil
}

// ValidateResponse checks that the response to req, given by its status,
// header and body, is one the document describes for req's method and path.
// It fails for a route or status the document does not list, for an
// undocumented Content-Type, for a missing required header such as
// Retry-After, and for a JSON body that does not match the schema: a missing
// required field, an extra field, a wrong type or enum value. Bodies of other
// media types (YAML, HTML, Prometheus text) are checked for their content type
// only. The request body is not validated and no authentication is checked.
func (v *Validator) ValidateResponse(req *http.Request, status int, header http.Header, body []byte) error {
	if req == nil || req.URL == nil {
		return errors.New("openapi: no request to validate the response of")
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("openapi: %s %s: %w", req.Method, req.URL.Path, err)
	}
	where := fmt.Sprintf("%s %s: status %d", route.Method, route.Path, status)
	ref := route.Operation.Responses.Status(status)
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("openapi: %s: status is not documented", where)
	}

	opts := &openapi3filter.Options{
		ExcludeRequestBody:    true,
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.DisableSchemaErrorDetails(),
		},
	}
	content := ref.Value.Content
	contentType := header.Get("Content-Type")
	switch {
	case len(content) == 0 && len(body) > 0:
		return fmt.Errorf("openapi: %s: documented without a body, got %d bytes", where, len(body))
	case len(content) > 0 && content.Get(contentType) == nil:
		return fmt.Errorf("openapi: %s: content type %q is not documented, want %s",
			where, contentType, strings.Join(slices.Sorted(maps.Keys(content)), " or "))
	case !isJSON(contentType):
		opts.ExcludeResponseBody = true
	}

	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
			Options:    opts,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	}
	if err := openapi3filter.ValidateResponse(req.Context(), input); err != nil {
		return fmt.Errorf("openapi: %s: %w", where, err)
	}
	return nil
}

// isJSON reports whether a Content-Type names JSON (application/json or a
// +json suffix), ignoring parameters such as charset.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}
