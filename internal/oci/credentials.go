package oci

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// DefaultDockerConfig is where Docker keeps its config.json: $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json; "" when neither can be told (no home directory).
func DefaultDockerConfig() string {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// missingFile reports whether path does not exist: a docker config that is missing means no
// credentials, which String and the start-up log then say. Any other failure to read it is
// left to the store, which reports it.
func missingFile(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// dockerCredential reads the credentials of addr's registry from a Docker config file with
// oras-go's credentials store, which follows Docker's own rules: a credHelpers entry for the
// key, else the credsStore, else the auths entry in the file itself. The file is parsed once
// here (a malformed file is an error at start-up); helpers run when a registry asks for
// credentials, which the token cache makes once per scope and token lifetime.
func dockerCredential(path string, addr address) (auth.CredentialFunc, error) {
	store, err := credentials.NewStore(path, credentials.StoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("oci: docker config: %w", err)
	}
	key := addr.endpoint.CredentialKey
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		if hostport != addr.host {
			// oras asks for the registry it talks to; any other host gets nothing from us.
			return auth.EmptyCredential, nil
		}
		cred, err := store.Get(ctx, key)
		if err != nil {
			return auth.EmptyCredential, credentialError(path, key, err)
		}
		return cred, nil
	}, nil
}

// credentialError words a failed credential lookup without its secret. oras-go's message
// for an "auth" field that is not base64 of user:password quotes the decoded value — the
// secret itself — so that one is replaced; the others (a helper that is missing or failed,
// in the helper's own words) carry no secret and are kept, as they say what to fix.
func credentialError(path, key string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "decode auth field") || strings.Contains(msg, "does not conform") {
		return fmt.Errorf("oci: credentials for %s in %s: the auths entry's \"auth\" field is not base64 of user:password", key, path)
	}
	return fmt.Errorf("oci: credentials for %s from %s: %w", key, path, err)
}
