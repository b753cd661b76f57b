package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes checks that every route the server registers is
// described in /openapi.json and that every described route exists.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	m := NewMain(io.Discard)
	if _, err := m.ParseFlags([]string{"-data", t.TempDir()}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	rec := httptest.NewRecorder()
	m.API.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("/openapi.json is not an OpenAPI 3 document: %v", err)
	}
	described := map[string]bool{} // "GET /path/{x}"
	for path, ops := range doc.Paths {
		for method := range ops {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}

	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, pattern := range m.API.Patterns() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "", pattern
		}
		path = strings.TrimSuffix(path, "{$}")
		found := false
		for d := range described {
			dm, dp, _ := strings.Cut(d, " ")
			if method != "" && dm != method {
				continue
			}
			if dp == path || (strings.HasSuffix(path, "/") && len(path) > 1 && strings.HasPrefix(dp, path)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("route %q is not described in openapi.json", pattern)
		}
	}

	for d := range described {
		method, path, _ := strings.Cut(d, " ")
		concrete := param.ReplaceAllStringFunc(path, func(p string) string {
			if p == "{file}" {
				return "x.xml"
			}
			return "x1"
		})
		if got := m.API.Match(httptest.NewRequest(method, concrete, nil)); got == "" {
			t.Errorf("described route %s %s has no handler", method, path)
		}
	}
}
