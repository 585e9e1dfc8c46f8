// Command staticbytes serves one file's bytes on every path with the headers of a cached /search
// answer: the ceiling scripts/bench-wrk.sh measures /search?all=true against.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("address", "127.0.0.1:8099", "listen address")
	file := flag.String("file", "", "the bytes to serve")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	length := []string{strconv.Itoa(len(body))}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = length
		h["Cache-Control"] = []string{"max-age=600", "public"}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})))
}
