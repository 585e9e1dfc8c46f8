// Command credhelper is a Docker credential helper for tests: it answers "get" from a JSON
// file named by EPR_TEST_CREDHELPER_STORE (server URL → {"Username", "Secret"}), in the
// helper protocol's own form, and appends each server URL asked for to the file named by
// EPR_TEST_CREDHELPER_LOG, so a test can tell which helper answered. Built by the tests.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "get" {
		fmt.Println("only get is supported")
		os.Exit(1)
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	server := strings.TrimSpace(string(in))
	if log := os.Getenv("EPR_TEST_CREDHELPER_LOG"); log != "" {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%s %s\n", os.Args[0], server)
			f.Close()
		}
	}
	raw, err := os.ReadFile(os.Getenv("EPR_TEST_CREDHELPER_STORE"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var store map[string]struct{ Username, Secret string }
	if err := json.Unmarshal(raw, &store); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	c, ok := store[server]
	if !ok {
		fmt.Println("credentials not found in native keychain")
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]string{"ServerURL": server, "Username": c.Username, "Secret": c.Secret})
}
