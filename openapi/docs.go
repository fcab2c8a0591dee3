package openapi

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed docs.html.tmpl
var docsTemplate string

var docsOnce = sync.OnceValues(renderDocs)

// DocsHTML returns the document rendered as a self-contained HTML page, as
// served at /docs: inline CSS, no JavaScript, nothing fetched from elsewhere.
// The page is rendered once; the returned slice is a copy the caller may keep.
func DocsHTML() ([]byte, error) {
	page, err := docsOnce()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(page), nil
}

func renderDocs() ([]byte, error) {
	doc, err := parse(true)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("docs").Parse(docsTemplate)
	if err != nil {
		return nil, fmt.Errorf("openapi: unable to parse docs template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, newDocsPage(doc)); err != nil {
		return nil, fmt.Errorf("openapi: unable to render docs: %w", err)
	}
	return buf.Bytes(), nil
}

// The docs* types are the view of the document that the template renders.
// Everything is worked out here so that the template only lays it out.
type docsPage struct {
	Title       string
	Version     string
	Description template.HTML
	Auth        []docsAuth
	Groups      []docsGroup
}

type docsAuth struct {
	Name        string
	Kind        string
	Description template.HTML
}

type docsGroup struct {
	Name        string
	Description template.HTML
	Operations  []docsOperation
}

type docsOperation struct {
	Anchor      string
	Method      string
	Path        string
	Summary     string
	Description template.HTML
	Auth        string
	AuthClass   string
	Parameters  []docsField
	Body        *docsContent
	Responses   []docsResponse
}

type docsResponse struct {
	Status      string
	Class       string
	Description template.HTML
	Headers     []docsField
	Contents    []docsContent
}

type docsContent struct {
	Response    bool // a response body, whose required fields are always present
	Collapsed   bool // an error body, shown folded since every error looks alike
	MediaType   string
	Required    bool
	Type        string
	Description template.HTML
	Fields      []docsField
	Examples    []docsExample
}

type docsExample struct {
	Name string
	Text string
}

type docsField struct {
	Name        string
	In          string
	Depth       int
	Type        string
	Required    bool
	Description template.HTML
	Enum        []string
	Constraints []string
}

// maxFieldDepth bounds how deep nested objects are expanded into field rows.
const maxFieldDepth = 6

func newDocsPage(doc *openapi3.T) docsPage {
	page := docsPage{
		Title:       doc.Info.Title,
		Version:     doc.Info.Version,
		Description: prose(doc.Info.Description),
	}
	if doc.Components != nil {
		for _, name := range slices.Sorted(maps.Keys(doc.Components.SecuritySchemes)) {
			ref := doc.Components.SecuritySchemes[name]
			if ref == nil || ref.Value == nil {
				continue
			}
			s := ref.Value
			kind := s.Type
			if s.Type == "http" {
				kind = "HTTP " + s.Scheme
				if s.BearerFormat != "" {
					kind += " (" + s.BearerFormat + ")"
				}
			}
			page.Auth = append(page.Auth, docsAuth{Name: name, Kind: kind, Description: prose(s.Description)})
		}
	}

	groups := map[string]*docsGroup{}
	var order []string
	group := func(name string) *docsGroup {
		if g, ok := groups[name]; ok {
			return g
		}
		g := &docsGroup{Name: name}
		if tag := doc.Tags.Get(name); tag != nil {
			g.Description = prose(tag.Description)
		}
		groups[name] = g
		order = append(order, name)
		return g
	}
	for _, tag := range doc.Tags {
		group(tag.Name)
	}
	for _, path := range pathsInDocumentOrder(doc) {
		item := doc.Paths.Value(path)
		for _, method := range methodOrder(item) {
			op := item.GetOperation(method)
			name := "other"
			if len(op.Tags) > 0 {
				name = op.Tags[0]
			}
			g := group(name)
			g.Operations = append(g.Operations, newDocsOperation(doc, path, method, op))
		}
	}
	for _, name := range order {
		if g := groups[name]; len(g.Operations) > 0 {
			page.Groups = append(page.Groups, *g)
		}
	}
	return page
}

// pathsInDocumentOrder lists the paths in the order the YAML has them, so
// that the page reads like the document; paths without a recorded position
// come last, sorted.
func pathsInDocumentOrder(doc *openapi3.T) []string {
	paths := slices.Collect(maps.Keys(doc.Paths.Map()))
	slices.SortFunc(paths, func(a, b string) int {
		return cmp.Or(cmp.Compare(line(doc.Paths.Value(a).Origin), line(doc.Paths.Value(b).Origin)), strings.Compare(a, b))
	})
	return paths
}

// line returns the line an element starts on, or MaxInt when unknown.
func line(o *openapi3.Origin) int {
	if o == nil || o.Key == nil {
		return math.MaxInt
	}
	return o.Key.Line
}

func methodOrder(item *openapi3.PathItem) []string {
	ops := item.Operations()
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions, http.MethodTrace} {
		if ops[m] != nil {
			methods = append(methods, m)
		}
	}
	return methods
}

func newDocsOperation(doc *openapi3.T, path, method string, op *openapi3.Operation) docsOperation {
	out := docsOperation{
		Anchor:      "op-" + cmp.Or(op.OperationID, strings.ToLower(method)+strings.NewReplacer("/", "-", "{", "", "}", "").Replace(path)),
		Method:      method,
		Path:        path,
		Summary:     op.Summary,
		Description: prose(op.Description),
	}
	out.Auth, out.AuthClass = authOf(doc, op)

	for _, ref := range op.Parameters {
		if ref == nil || ref.Value == nil {
			continue
		}
		p := ref.Value
		f := docsField{
			Name:        p.Name,
			In:          p.In,
			Required:    p.Required,
			Description: prose(p.Description),
		}
		if p.Schema != nil && p.Schema.Value != nil {
			f.Type = typeOf(p.Schema)
			f.Enum = enumOf(p.Schema.Value)
			f.Constraints = constraintsOf(p.Schema.Value)
			if p.Description == "" {
				f.Description = prose(p.Schema.Value.Description)
			}
		}
		if p.Example != nil {
			f.Constraints = append(f.Constraints, "example "+compactJSON(p.Example))
		}
		out.Parameters = append(out.Parameters, f)
	}

	if op.RequestBody != nil && op.RequestBody.Value != nil {
		rb := op.RequestBody.Value
		for _, c := range contentsOf(rb.Content, false) {
			c.Required = rb.Required
			if rb.Description != "" {
				c.Description = prose(rb.Description)
			}
			out.Body = &c
			break // one request media type is all the API uses
		}
	}

	statuses := slices.Collect(maps.Keys(op.Responses.Map()))
	slices.SortFunc(statuses, func(a, b string) int {
		return cmp.Compare(statusRank(a), statusRank(b))
	})
	for _, status := range statuses {
		ref := op.Responses.Value(status)
		if ref == nil || ref.Value == nil {
			continue
		}
		r := ref.Value
		resp := docsResponse{Status: status, Class: "s" + status[:1]}
		if r.Description != nil {
			resp.Description = prose(*r.Description)
		}
		for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
			h := r.Headers[name]
			if h == nil || h.Value == nil {
				continue
			}
			f := docsField{Name: name, Required: h.Value.Required, Description: prose(h.Value.Description)}
			if h.Value.Schema != nil && h.Value.Schema.Value != nil {
				f.Type = typeOf(h.Value.Schema)
				f.Constraints = constraintsOf(h.Value.Schema.Value)
			}
			resp.Headers = append(resp.Headers, f)
		}
		resp.Contents = contentsOf(r.Content, true)
		if code, err := strconv.Atoi(status); err == nil && code >= 400 {
			for i := range resp.Contents {
				resp.Contents[i].Collapsed = true
			}
		}
		out.Responses = append(out.Responses, resp)
	}
	return out
}

// statusRank orders response keys: 2XX before 4XX, default last.
func statusRank(status string) int {
	if n, err := strconv.Atoi(status); err == nil {
		return n
	}
	if len(status) == 3 && strings.HasSuffix(strings.ToUpper(status), "XX") {
		return int(status[0]-'0')*100 + 99
	}
	return 1000
}

// authOf describes who may call op: an empty requirement among several makes
// the token optional, no requirement at all makes the operation open.
func authOf(doc *openapi3.T, op *openapi3.Operation) (text, class string) {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return "Open: no token needed", "open"
	}
	var schemes []string
	optional := false
	for _, req := range reqs {
		if len(req) == 0 {
			optional = true
		}
		schemes = append(schemes, slices.Sorted(maps.Keys(req))...)
	}
	names := strings.Join(slices.Compact(schemes), ", ")
	if optional {
		return "Token optional (" + names + ")", "optional"
	}
	return "Token required (" + names + ")", "required"
}

func contentsOf(content openapi3.Content, response bool) []docsContent {
	var out []docsContent
	for _, mediaType := range slices.Sorted(maps.Keys(content)) {
		mt := content[mediaType]
		if mt == nil {
			continue
		}
		c := docsContent{Response: response, MediaType: mediaType}
		var schema *openapi3.Schema
		if mt.Schema != nil && mt.Schema.Value != nil {
			schema = mt.Schema.Value
			c.Type = typeOf(mt.Schema)
			c.Description = prose(schema.Description)
			c.Fields = fieldsOf(mt.Schema, "", 0, nil)
		}
		if mt.Example != nil {
			c.Examples = append(c.Examples, docsExample{Text: exampleText(mt.Example, schema)})
		}
		for _, name := range slices.Sorted(maps.Keys(mt.Examples)) {
			ex := mt.Examples[name]
			if ex == nil || ex.Value == nil {
				continue
			}
			c.Examples = append(c.Examples, docsExample{Name: cmp.Or(ex.Value.Summary, name), Text: exampleText(ex.Value.Value, schema)})
		}
		out = append(out, c)
	}
	return out
}

// fieldsOf flattens the properties of an object schema into rows, expanding
// nested objects, arrays of objects and maps of objects below their parent.
// stack holds the schemas being expanded, so that a recursive schema stops.
func fieldsOf(ref *openapi3.SchemaRef, prefix string, depth int, stack []*openapi3.Schema) []docsField {
	if ref == nil || ref.Value == nil || depth > maxFieldDepth || slices.Contains(stack, ref.Value) {
		return nil
	}
	s := ref.Value
	stack = append(stack, s)
	var out []docsField
	for _, name := range propertiesInDocumentOrder(s) {
		prop := s.Properties[name]
		if prop == nil || prop.Value == nil {
			continue
		}
		p := prop.Value
		out = append(out, docsField{
			Name:        prefix + name,
			Depth:       depth,
			Type:        typeOf(prop),
			Required:    slices.Contains(s.Required, name),
			Description: prose(p.Description),
			Enum:        enumOf(p),
			Constraints: constraintsOf(p),
		})
		switch {
		case isObject(p) && len(p.Properties) > 0:
			out = append(out, fieldsOf(prop, prefix+name+".", depth+1, stack)...)
		case isType(p, openapi3.TypeArray) && p.Items != nil:
			out = append(out, fieldsOf(p.Items, prefix+name+"[].", depth+1, stack)...)
		case isObject(p) && p.AdditionalProperties.Schema != nil:
			out = append(out, fieldsOf(p.AdditionalProperties.Schema, prefix+name+".*.", depth+1, stack)...)
		}
	}
	return out
}

// propertiesInDocumentOrder lists the properties of s in the order the YAML
// has them; without recorded positions, in alphabetical order.
func propertiesInDocumentOrder(s *openapi3.Schema) []string {
	names := slices.Collect(maps.Keys(s.Properties))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(line(s.Properties[a].Origin), line(s.Properties[b].Origin)), strings.Compare(a, b))
	})
	return names
}

func isType(s *openapi3.Schema, typ string) bool {
	return s.Type != nil && s.Type.Includes(typ)
}

func isObject(s *openapi3.Schema) bool {
	return isType(s, openapi3.TypeObject) || (s.Type == nil && len(s.Properties) > 0)
}

// refName returns the component name a $ref points at, such as Label.
func refName(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Ref == "" {
		return ""
	}
	return ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]
}

// typeOf describes the type of a schema for a reader: "string (date-time)",
// "Label", "array of Report", "map of string to integer".
func typeOf(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil {
		return "any"
	}
	s := ref.Value
	switch {
	case isType(s, openapi3.TypeArray):
		if s.Items == nil {
			return "array"
		}
		return "array of " + typeOf(s.Items)
	case isObject(s):
		if name := refName(ref); name != "" {
			return name
		}
		if s.AdditionalProperties.Schema != nil {
			return "map of string to " + typeOf(s.AdditionalProperties.Schema)
		}
		return "object"
	case s.Type == nil || len(s.Type.Slice()) == 0:
		return "any"
	}
	typ := strings.Join(s.Type.Slice(), " or ")
	if s.Format != "" {
		typ += " (" + s.Format + ")"
	}
	return typ
}

func enumOf(s *openapi3.Schema) []string {
	var out []string
	for _, v := range s.Enum {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// constraintsOf lists the limits of a schema in words, such as
// "1 to 64 characters" or "at most 500 items".
func constraintsOf(s *openapi3.Schema) []string {
	var out []string
	rangeOf := func(lo *float64, hi *float64, unit string) {
		num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
		units := func(f float64) string {
			if unit == "" || f == 1 {
				return unit
			}
			return unit + "s"
		}
		switch {
		case lo != nil && hi != nil:
			out = append(out, fmt.Sprintf("%s to %s%s", num(*lo), num(*hi), units(*hi)))
		case lo != nil:
			out = append(out, fmt.Sprintf("at least %s%s", num(*lo), units(*lo)))
		case hi != nil:
			out = append(out, fmt.Sprintf("at most %s%s", num(*hi), units(*hi)))
		}
	}
	uintRange := func(lo uint64, hi *uint64, unit string) {
		var l, h *float64
		if lo > 0 {
			f := float64(lo)
			l = &f
		}
		if hi != nil {
			f := float64(*hi)
			h = &f
		}
		rangeOf(l, h, unit)
	}
	rangeOf(s.Min, s.Max, "")
	uintRange(s.MinLength, s.MaxLength, " character")
	uintRange(s.MinItems, s.MaxItems, " item")
	if s.Pattern != "" {
		out = append(out, "pattern "+s.Pattern)
	}
	if s.Default != nil {
		out = append(out, "default "+compactJSON(s.Default))
	}
	return out
}

// compactJSON renders v as one line of JSON for display. HTML characters
// stay as they are: the template escapes them, and \u003c would confuse.
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// exampleText renders an example for display: strings as they are, anything
// else as indented JSON whose object keys follow the schema's property order.
func exampleText(v any, schema *openapi3.Schema) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	writeExample(&b, v, schema, "")
	return b.String()
}

func writeExample(b *strings.Builder, v any, schema *openapi3.Schema, indent string) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			b.WriteString("{}")
			return
		}
		keys := slices.Sorted(maps.Keys(v))
		if schema != nil {
			order := propertiesInDocumentOrder(schema)
			rank := func(k string) int {
				if i := slices.Index(order, k); i >= 0 {
					return i
				}
				return len(order)
			}
			slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
		}
		b.WriteString("{\n")
		for i, k := range keys {
			b.WriteString(indent + "  " + compactJSON(k) + ": ")
			writeExample(b, v[k], propertySchema(schema, k), indent+"  ")
			if i < len(keys)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		var items *openapi3.Schema
		if schema != nil && schema.Items != nil {
			items = schema.Items.Value
		}
		b.WriteString("[\n")
		for i, item := range v {
			b.WriteString(indent + "  ")
			writeExample(b, item, items, indent+"  ")
			if i < len(v)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(indent + "]")
	default:
		b.WriteString(compactJSON(v))
	}
}

func propertySchema(schema *openapi3.Schema, name string) *openapi3.Schema {
	if schema == nil {
		return nil
	}
	if p := schema.Properties[name]; p != nil {
		return p.Value
	}
	if ap := schema.AdditionalProperties.Schema; ap != nil {
		return ap.Value
	}
	return nil
}

// prose renders the plain-text descriptions of the document: blank lines
// separate paragraphs, lines starting with "- " make a list, and backticks
// mark code. All text is escaped; the markup is the only HTML produced.
func prose(s string) template.HTML {
	var b strings.Builder
	for _, block := range strings.Split(strings.TrimSpace(s), "\n\n") {
		var para []string
		inList := false
		flush := func() {
			if len(para) > 0 {
				b.WriteString("<p>" + inlineCode(strings.Join(para, " ")) + "</p>\n")
				para = nil
			}
		}
		for _, l := range strings.Split(block, "\n") {
			l = strings.TrimSpace(l)
			if item, ok := strings.CutPrefix(l, "- "); ok {
				flush()
				if !inList {
					b.WriteString("<ul>\n")
					inList = true
				}
				b.WriteString("<li>" + inlineCode(item) + "</li>\n")
				continue
			}
			if inList {
				b.WriteString("</ul>\n")
				inList = false
			}
			if l != "" {
				para = append(para, l)
			}
		}
		flush()
		if inList {
			b.WriteString("</ul>\n")
		}
	}
	// Safe: every piece of text went through inlineCode, which escapes it.
	return template.HTML(b.String())
}

// inlineCode escapes s and wraps `backticked` spans in <code>. A lone
// backtick is kept as text.
func inlineCode(s string) string {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 {
		last := parts[len(parts)-2] + "`" + parts[len(parts)-1]
		parts = append(parts[:len(parts)-2], last)
	}
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(p) + "</code>")
			continue
		}
		b.WriteString(localLink.ReplaceAllString(template.HTMLEscapeString(p), `<a href="$2">$1</a>`))
	}
	return b.String()
}

// localLink is a Markdown link to a page of this server ("[the phone
// contract](/docs/phone-contract.md)"); links elsewhere stay text, so that
// the page never points off the server.
var localLink = regexp.MustCompile(`\[([^\]]+)\]\((/[^)\s]*)\)`)
