package contract_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

// Debian's jars (apt-get install libphonenumber8-java junit5).
const javaLib = "/usr/share/java"

// TestJavaClient compiles clients/java and runs its tests: every vector,
// and the end-to-end run against a live callrep on loopback started here
// (an embedded store, the real API, the local issuer's tokens). It skips
// only when no JDK or jars are installed; CI installs them.
func TestJavaClient(t *testing.T) {
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Skip("no javac: install a JDK 17 and libphonenumber8-java junit5 to run the Java client's tests")
	}
	for _, jar := range []string{"libphonenumber.jar", "junit-jupiter-api.jar", "apiguardian-api.jar", "junit-platform-console-standalone.jar"} {
		if _, err := os.Stat(filepath.Join(javaLib, jar)); err != nil {
			t.Skipf("no %s: apt-get install -y libphonenumber8-java junit5", jar)
		}
	}
	build := t.TempDir()
	lib := func(jars ...string) string {
		var out []string
		for _, j := range jars {
			out = append(out, filepath.Join(javaLib, j))
		}
		return strings.Join(out, string(os.PathListSeparator))
	}
	sources := func(dir string) []string {
		var out []string
		filepath.WalkDir(filepath.Join("..", "clients", "java", "src", dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".java") {
				out = append(out, p)
			}
			return err
		})
		return out
	}
	run := func(name string, args ...string) {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		t.Logf("%s:\n%s", filepath.Base(name), out)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(name), err)
		}
	}
	mainDir, testDir := filepath.Join(build, "main"), filepath.Join(build, "test")
	run(javac, append([]string{"--release", "17", "-Xlint:all", "-Werror", "-d", mainDir, "-cp", lib("libphonenumber.jar")}, sources("main")...)...)
	run(javac, append([]string{"--release", "17", "-d", testDir, "-cp",
		mainDir + string(os.PathListSeparator) + lib("libphonenumber.jar", "junit-jupiter-api.jar", "apiguardian-api.jar")}, sources("test")...)...)

	srv := startCallrep(t)
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal(err)
	}
	vectors, _ := filepath.Abs("vectors")
	run(java, "-Dcallrep.vectors="+vectors, "-Dcallrep.url="+srv.url,
		"-Dcallrep.reporters="+strings.Join(srv.reporters, ","), "-Dcallrep.moderator="+srv.moderator,
		"-jar", filepath.Join(javaLib, "junit-platform-console-standalone.jar"),
		"--class-path", strings.Join([]string{mainDir, testDir, lib("libphonenumber.jar")}, string(os.PathListSeparator)),
		"--scan-class-path", "--disable-banner", "--details=tree", "--fail-if-no-tests")
}

// live is a callrep served on loopback with tokens for three reporters
// and a moderator.
type live struct {
	url       string
	reporters []string
	moderator string
}

func startCallrep(t *testing.T) live {
	t.Helper()
	ctx := context.Background()
	m := mongotest.Open(t)
	store, err := labels.OpenStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := reputation.DefaultConfig()
	cfg.Ramp = 0 // new accounts count at once, as with --account-ramp 0
	engine := reputation.NewEngine(cfg)
	svc, err := labels.Open(ctx, store, labels.Options{DefaultRegion: "CN", Observers: []labels.Observer{engine}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(ctx) })
	blobs, err := reputation.OpenBlobStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	pubs := reputation.NewPublisher(reputation.DefaultPublisherConfig(), engine, blobs, quiet)
	if err := pubs.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	issuer, err := api.LoadOrCreateLocalIssuer(t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Config{Labels: svc, Reputation: engine, Verifier: issuer, Publications: pubs,
		Ready: func(context.Context) error { return nil }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	l := live{url: hs.URL}
	for _, uid := range []string{"ann", "ben", "cai"} {
		tok, err := issuer.Issue(uid, false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		l.reporters = append(l.reporters, tok)
	}
	if l.moderator, err = issuer.Issue("mod", true, time.Hour); err != nil {
		t.Fatal(err)
	}
	return l
}
