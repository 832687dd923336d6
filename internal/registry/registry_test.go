package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tempid/internal/idnumber"
	"tempid/internal/problem"
)

func TestFileRegistryConfirmsOnlyListedPairs(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	zhang := idnumber.Generate("11", time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), 1)
	li := idnumber.Generate("31", time.Date(1985, 1, 2, 0, 0, 0, 0, time.UTC), 2)
	unknown := idnumber.Generate("44", time.Date(1970, 3, 3, 0, 0, 0, 0, time.UTC), 3)
	f, err := ParseFile(strings.NewReader("name,id_number\n张三,"+zhang.String()+"\n李四,"+li.String()+"\n"), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		person  string
		id      idnumber.Number
		confirm bool
	}{
		{"listed pair", "张三", zhang, true},
		{"listed pair with spaces", " 李四 ", li, true},
		{"wrong name", "张四", zhang, false},
		{"another person's name", "李四", zhang, false},
		{"unknown number", "张三", unknown, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := f.Confirm(context.Background(), c.person, c.id)
			if c.confirm && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !c.confirm && !problem.Is(err, problem.IdentityMismatch) {
				t.Errorf("got %v, want identity_mismatch", err)
			}
		})
	}
}

func TestFileRegistryRefusesInvalidNumbers(t *testing.T) {
	if _, err := ParseFile(strings.NewReader("张三,110101199001011234\n"), time.Now()); err == nil {
		t.Error("a file with a bad check character was accepted")
	}
	if _, err := ParseFile(strings.NewReader("张三\n"), time.Now()); err == nil {
		t.Error("a line with one field was accepted")
	}
}

func TestFileRegistryShowsAListedPhotoOnlyForAConfirmedPair(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	zhang := idnumber.Generate("11", time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), 1)
	li := idnumber.Generate("31", time.Date(1985, 1, 2, 0, 0, 0, 0, time.UTC), 2)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "zhang.jpg"), []byte{0xff, 0xd8, 0xff}, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(strings.NewReader("name,id_number,photo\n张三,"+zhang.String()+",zhang.jpg\n李四,"+li.String()+"\n"), now)
	if err != nil {
		t.Fatal(err)
	}
	f.Dir = dir
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		person string
		id     idnumber.Number
		want   string
	}{
		{"a listed photo", "张三", zhang, "data:image/jpeg;base64,/9j/"},
		{"a person without a photo", "李四", li, ""},
		{"a wrong name gets none", "张四", zhang, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PhotoOf(ctx, f, c.person, c.id)
			if err != nil || got != c.want {
				t.Errorf("PhotoOf = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	t.Run("a registry without the capability has no photo", func(t *testing.T) {
		if got, err := PhotoOf(ctx, Development{}, "张三", zhang); got != "" || err != nil {
			t.Errorf("PhotoOf(development) = %q, %v", got, err)
		}
	})
	t.Run("a line with four fields is refused", func(t *testing.T) {
		if _, err := ParseFile(strings.NewReader("张三,"+zhang.String()+",a.jpg,extra\n"), now); err == nil {
			t.Error("accepted")
		}
	})
}
