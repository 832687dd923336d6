package store

import (
	"context"
	"testing"
	"time"
)

// A hot read takes the reader given back last, whose page cache is the
// likeliest to be good still (hotread.go); with none free it waits until
// one comes back or its context ends.
func TestAHotReadTakesTheReaderGivenBackLast(t *testing.T) {
	p := newHotPool(3)
	a, b, c := &hotReader{}, &hotReader{}, &hotReader{}
	for _, h := range []*hotReader{a, b, c} {
		p.put(h)
	}
	ctx := context.Background()
	for i, want := range []*hotReader{c, c, c} {
		h, err := p.get(ctx)
		if err != nil || h != want {
			t.Fatalf("read %d took reader %p (%v), want %p, the one given back last", i, h, err, want)
		}
		p.put(h)
	}
	first, _ := p.get(ctx)
	second, _ := p.get(ctx)
	p.put(first)
	if h, _ := p.get(ctx); h != first || second != b {
		t.Fatalf("took %p then %p, then %p after giving %p back; want c, b, c", first, second, h, first)
	}
	last, _ := p.get(ctx)
	if last != a {
		t.Fatalf("the last free reader is %p, want a", last)
	}

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if h, err := p.get(short); err == nil {
		t.Fatalf("with no reader free a read took %p", h)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		p.put(b)
	}()
	if h, err := p.get(ctx); err != nil || h != b {
		t.Fatalf("a waiting read took %p (%v), want the reader given back meanwhile", h, err)
	}
}
