// Command ginnoop is the baseline of the lookup benchmark: a gin engine
// from the same gin version as callrep, without middleware, answering
// GET /v1/numbers/:number with a constant JSON body the size of callrep's
// answer for an unknown number. It does nothing else, so the ratio of
// callrep's lookup rate to its rate is what callrep's own work costs.
//
//	ginnoop -listen 127.0.0.1:8081
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
)

// body is callrep's answer for an unknown US number, byte for byte.
var body = []byte(`{"number":"+14155550199","valid":true,"number_type":"fixed_line_or_mobile","region":"US","verdict":"unknown","score":0,"reporters":0,"categories":{},"signals":[],"evidence":{}}`)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("ginnoop", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/v1/numbers/:number", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ginnoop:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "ginnoop serving", ln.Addr())
	// The same server timeouts as callrep's, which make Go arm a timer
	// per request.
	hs := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	if err := hs.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "ginnoop:", err)
		return 1
	}
	return 0
}
