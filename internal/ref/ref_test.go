package ref

import "testing"

func TestRefRoundTrips(t *testing.T) {
	for _, row := range []struct {
		ref                   Ref
		key, tag, single, rep string
	}{
		{Ref{"nginx", "1.2.3"}, "nginx/1.2.3", "1.2.3", "nginx-1.2.3", "packages/nginx"},
		{Ref{"a_b", "1.0.0-beta.1+build.7"}, "a_b/1.0.0-beta.1_build.7", "1.0.0-beta.1_build.7", "a_b-1.0.0-beta.1_build.7", "packages/a_b"},
	} {
		r := row.ref
		if r.Key() != row.key || r.Tag() != row.tag || r.SingleTag() != row.single || r.Repository("packages") != row.rep {
			t.Fatalf("%+v: key %s tag %s single %s repository %s", r, r.Key(), r.Tag(), r.SingleTag(), r.Repository("packages"))
		}
		if got, ok := ParseKey(r.Key()); !ok || got != r {
			t.Fatalf("ParseKey(%s) = %+v %v", r.Key(), got, ok)
		}
		if got, ok := FromTag(r.Name, r.Tag()); !ok || got != r {
			t.Fatalf("FromTag(%s) = %+v %v", r.Tag(), got, ok)
		}
		if got, ok := FromSingleTag(r.SingleTag()); !ok || got != r {
			t.Fatalf("FromSingleTag(%s) = %+v %v", r.SingleTag(), got, ok)
		}
	}
}

func TestNotVersions(t *testing.T) {
	for _, tag := range []string{"latest", "1.0", "v1.0.0", "01.0.0"} {
		if r, ok := FromTag("nginx", tag); ok {
			t.Errorf("FromTag(%q) = %+v", tag, r)
		}
	}
	for _, tag := range []string{"nginx", "Nginx-1.0.0", "nginx-latest", "-1.0.0", "sha256-" + "00"} {
		if r, ok := FromSingleTag(tag); ok {
			t.Errorf("FromSingleTag(%q) = %+v", tag, r)
		}
	}
	for _, key := range []string{"", "nginx", "/1.0.0", "nginx/"} {
		if r, ok := ParseKey(key); ok {
			t.Errorf("ParseKey(%q) = %+v", key, r)
		}
	}
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if !IsFallbackTag("sha256-"+hex) || IsFallbackTag("sha256-"+hex[:10]) || IsFallbackTag("1.0.0") {
		t.Error("IsFallbackTag")
	}
}

func TestGrammar(t *testing.T) {
	for repo, want := range map[string]bool{"packages/nginx": true, "a.b/c__d/e-f": true, "Packages": false, "a//b": false, "": false} {
		if ValidRepository(repo) != want {
			t.Errorf("ValidRepository(%q) != %v", repo, want)
		}
	}
	for tag, want := range map[string]bool{"1.0.0_b": true, "_x": true, ".x": false, "a+b": false, "": false} {
		if ValidTag(tag) != want {
			t.Errorf("ValidTag(%q) != %v", tag, want)
		}
	}
}
