// Package oci is the project's only client of OCI registries. It owns how the rest of the system
// talks to a registry, on top of oras-go v2's registry/remote:
//
//   - addressing, TLS and plain HTTP ([Config], [New], [Client]), and the registry addresses
//     users type onto API hosts and credential keys ([EndpointFor]: Docker Hub's aliases);
//   - credentials: a static user and password, else a Docker config's auths, credHelpers or
//     credsStore through oras-go's credentials package, exchanged for pull tokens at registries
//     that challenge for Bearer ([Config.DockerConfig], [DefaultDockerConfig]);
//   - Zot's search extension as an accelerator of discovery and resync, with the plain API as
//     fallback ([Client.SearchTagDigests], [Client.Repositories], [ErrSearchUnsupported]);
//   - discovery and listing: complete tag listings that follow Link pagination and tell "this
//     repository does not exist" apart from a failure ([Client.Tags], [ErrRepositoryNotFound]),
//     and the catalog ([Client.Catalog], [ErrCatalogUnsupported]);
//   - reading artifacts: resolve a tag, fetch a bounded image manifest, pick the package zip and
//     signature layers ([Client.Resolve], [Client.FetchManifest], [PickLayers]);
//   - a digest-addressed, digest-verified on-disk blob cache ([BlobCache]);
//   - writing artifacts exactly as docs/artifact-layout.md describes, for tests and the dev
//     stack ([Client.PushPackage], [Client.Tag], [Client.DeleteTag], [Client.DeleteManifest]).
//
// It knows nothing about what is inside a package zip (internal/packages does) nor which tags
// are package versions (internal/indexer decides).
package oci
