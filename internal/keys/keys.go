// Package keys keeps the railway's credential keys — Ed25519 issuer keys
// that sign passes and trust bundles, and AES-256 seal keys that seal the
// ID number inside passes — and their rotation schedule, and makes passes
// with them (issuance.PassMaker).
//
// Every key has a signing window [NotBefore, NotAfter]: the pass_nbf values
// it may sign, which is what verify.IssuerKey means. Windows follow one
// another without gap or overlap beyond their shared instant, so exactly
// one key signs at any time. A new key is written to the database — and so
// published in /.well-known and in trust bundles — at least one
// bundle-freshness period before its window opens, so that every terminal
// holding a bundle fresh enough to be believed already knows the key when
// the first pass it signs appears. A key stays published until the last
// pass it may have signed has expired.
//
// Private keys are stored wrapped under the master key (pii.Keyring.Wrap)
// with the row's identity as associated data, and are held in memory by
// each node; nodes reload the keys periodically and after they rotate, so
// that all agree on the schedule written in the database.
package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"tempid/internal/bundle"
	"tempid/internal/clock"
	"tempid/internal/credential"
	"tempid/internal/pii"
	"tempid/internal/policy"
	"tempid/internal/store"
	"tempid/internal/verify"
)

// DefaultLifetime is how long a key is planned to sign when Service.Lifetime
// is zero. A month keeps the published list short (two or three keys)
// while rotation stays a routine, exercised operation.
const DefaultLifetime = 30 * 24 * time.Hour

// Service holds the keys and their schedule. Load must succeed before the
// other methods are useful.
type Service struct {
	Store  *store.Store
	PII    *pii.Keyring
	Policy policy.Settings
	Clock  clock.Clock
	// Lifetime is a key's planned signing window; zero means DefaultLifetime.
	Lifetime time.Duration

	mu      sync.RWMutex
	issuers []issuerKey // by NotBefore
	seals   []sealKey   // by NotBefore
	loaded  bool
}

type issuerKey struct {
	row  store.IssuerKey
	kid  [4]byte
	priv ed25519.PrivateKey
}

type sealKey struct {
	row store.SealKey
	key []byte
}

// Key describes an issuer key for display: its kid and signing window.
type Key struct {
	KID       string
	NotBefore time.Time
	NotAfter  time.Time
}

// ErrNoKey is returned when no key may sign at the time asked for; it
// means the schedule was broken (keys deleted, or clocks far apart).
var ErrNoKey = errors.New("keys: no issuer key may sign at this time")

func issuerAAD(id string) string { return "issuer_key:" + id }

func sealAAD(kid uint16) string { return "seal_key:" + strconv.Itoa(int(kid)) }

func (s *Service) lifetime() time.Duration {
	if s.Lifetime > 0 {
		return s.Lifetime
	}
	return DefaultLifetime
}

// retention is how long after its window ends a key stays published: the
// last pass it signed lives PassLifetime longer, and verifiers tolerate the
// skew beyond that.
func (s *Service) retention() time.Duration {
	return s.Policy.PassLifetime + s.Policy.VerificationSkew
}

// Load reads the keys from the database, unwrapping the private parts. On
// the very first start, with no keys at all, it creates a pair that signs
// at once: there is no terminal yet to have pre-published it to.
func (s *Service) Load(ctx context.Context) error {
	if err := s.reload(ctx); err != nil {
		return err
	}
	s.mu.RLock()
	empty := len(s.issuers) == 0
	s.mu.RUnlock()
	if !empty {
		return nil
	}
	now := s.Clock.Now()
	_, err := s.Store.ScheduleKeys(ctx, store.System, now, func(issuers []store.IssuerKey, seals []store.SealKey) (*store.KeyPair, error) {
		if len(issuers) > 0 {
			return nil, nil
		}
		// The window opens a face-check use window early: a pass starts
		// at its face check, which may have passed minutes before.
		start := wholeSecond(now.Add(-s.Policy.FaceCheckUseWindow))
		return s.newPair(start, start.Add(s.lifetime()), now, seals)
	})
	if err != nil {
		return err
	}
	return s.reload(ctx)
}

func (s *Service) reload(ctx context.Context) error {
	rows, seals, err := s.Store.Keys(ctx)
	if err != nil {
		return err
	}
	is := make([]issuerKey, 0, len(rows))
	for _, r := range rows {
		seed, err := s.PII.Unwrap(r.PrivateCT, issuerAAD(r.ID))
		if err != nil {
			return fmt.Errorf("issuer key %s: %w", r.KID, err)
		}
		if len(seed) != ed25519.SeedSize {
			return fmt.Errorf("issuer key %s: %d-byte seed", r.KID, len(seed))
		}
		priv := ed25519.NewKeyFromSeed(seed)
		kid := credential.KeyID(priv.Public().(ed25519.PublicKey))
		if hex.EncodeToString(kid[:]) != r.KID || !slices.Equal([]byte(priv.Public().(ed25519.PublicKey)), r.PublicKey) {
			return fmt.Errorf("issuer key %s: the stored public key or kid does not match the private key", r.KID)
		}
		is = append(is, issuerKey{row: r, kid: kid, priv: priv})
	}
	ss := make([]sealKey, 0, len(seals))
	for _, r := range seals {
		key, err := s.PII.Unwrap(r.KeyCT, sealAAD(r.KID))
		if err != nil {
			return fmt.Errorf("seal key %04x: %w", r.KID, err)
		}
		if len(key) != credential.SealKeySize {
			return fmt.Errorf("seal key %04x: %d bytes", r.KID, len(key))
		}
		ss = append(ss, sealKey{row: r, key: key})
	}
	s.mu.Lock()
	s.issuers, s.seals, s.loaded = is, ss, true
	s.mu.Unlock()
	return nil
}

// Ready tells whether keys are loaded, for the readiness probe.
func (s *Service) Ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.loaded || len(s.issuers) == 0 {
		return errors.New("issuer keys not loaded")
	}
	return nil
}

// newPair generates an issuer key and a seal key with the window
// [start, end]. The seal kid is random, avoiding every kid in use, so that
// a kid names one seal key for good.
func (s *Service) newPair(start, end, now time.Time, seals []store.SealKey) (*store.KeyPair, error) {
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	kid := credential.KeyID(pub)
	id := store.NewID()
	issuer := store.IssuerKey{
		ID: id, KID: hex.EncodeToString(kid[:]), PublicKey: pub, PrivateCT: s.PII.Wrap(seed, issuerAAD(id)),
		NotBefore: start, NotAfter: end, CreatedAt: now,
	}
	used := map[uint16]bool{}
	for _, k := range seals {
		used[k.KID] = true
	}
	if len(used) >= 1<<16 {
		return nil, errors.New("keys: every seal key id is in use")
	}
	var sealKID uint16
	for {
		var b [2]byte
		rand.Read(b[:])
		sealKID = binary.BigEndian.Uint16(b[:])
		if !used[sealKID] {
			break
		}
	}
	secret := make([]byte, credential.SealKeySize)
	rand.Read(secret)
	seal := store.SealKey{KID: sealKID, KeyCT: s.PII.Wrap(secret, sealAAD(sealKID)), NotBefore: start, NotAfter: end, CreatedAt: now}
	return &store.KeyPair{Issuer: issuer, Seal: seal}, nil
}

// Rotate schedules the next key pair: it is published now and signs from
// one bundle-freshness period from now, when the current key's window
// ends. If a successor is already scheduled and not yet signing, Rotate
// returns it and schedules nothing, so that repeated calls (two admins, a
// retried request) do not shorten its pre-publication.
func (s *Service) Rotate(ctx context.Context, actor store.Actor) (Key, bool, error) {
	now := s.Clock.Now()
	var pending *store.IssuerKey
	added, err := s.Store.ScheduleKeys(ctx, actor, now, func(issuers []store.IssuerKey, seals []store.SealKey) (*store.KeyPair, error) {
		pending = nil
		if n := len(issuers); n > 0 && issuers[n-1].NotBefore.After(now) {
			last := issuers[n-1]
			pending = &last
			return nil, nil
		}
		start := ceilSecond(now.Add(s.Policy.BundleFreshness))
		return s.newPair(start, start.Add(s.lifetime()), now, seals)
	})
	if err != nil {
		return Key{}, false, err
	}
	if err := s.reload(ctx); err != nil {
		return Key{}, false, err
	}
	if added != nil {
		return keyOf(added.Issuer), true, nil
	}
	if pending != nil {
		return keyOf(*pending), false, nil
	}
	return Key{}, false, errors.New("keys: nothing scheduled")
}

// RotateIfDue schedules the successor of the current key when its window
// ends within two bundle-freshness periods and none is scheduled yet. The
// successor starts when the current window ends, or — if this node was
// down so long that less than one freshness period remains — one
// freshness period from now, the current key's window being stretched to
// meet it: terminals that saw the shorter window then refuse the passes of
// the stretch until their next bundle, which is the lesser harm than a
// key that is not pre-published.
func (s *Service) RotateIfDue(ctx context.Context) (bool, error) {
	now := s.Clock.Now()
	fresh := s.Policy.BundleFreshness
	added, err := s.Store.ScheduleKeys(ctx, store.System, now, func(issuers []store.IssuerKey, seals []store.SealKey) (*store.KeyPair, error) {
		n := len(issuers)
		if n == 0 {
			return nil, nil
		}
		last := issuers[n-1]
		if last.NotBefore.After(now) || last.NotAfter.Sub(now) > 2*fresh {
			return nil, nil
		}
		start := last.NotAfter
		if earliest := ceilSecond(now.Add(fresh)); start.Before(earliest) {
			start = earliest
		}
		return s.newPair(start, start.Add(s.lifetime()), now, seals)
	})
	if err != nil || added == nil {
		return false, err
	}
	return true, s.reload(ctx)
}

// Run reloads the keys and rotates when due, every interval, until ctx
// ends, so that the nodes of a cluster follow the schedule in the database.
func (s *Service) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.reload(ctx); err != nil && ctx.Err() == nil {
			log.Error("reloading keys", "err", err)
			continue
		}
		if rotated, err := s.RotateIfDue(ctx); err != nil && ctx.Err() == nil {
			log.Error("scheduled key rotation", "err", err)
		} else if rotated {
			log.Info("scheduled the next issuer key")
		}
	}
}

func keyOf(k store.IssuerKey) Key {
	return Key{KID: k.KID, NotBefore: k.NotBefore, NotAfter: k.NotAfter}
}

// Signer is an issuer key able to sign.
type Signer struct {
	KID       [4]byte
	Key       ed25519.PrivateKey
	NotBefore time.Time
	NotAfter  time.Time
}

// Signer returns the key whose window contains t — for a pass, its
// pass_nbf, since that is what verifiers check the window against. At the
// instant two windows share, the newer key signs.
func (s *Service) Signer(t time.Time) (Signer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.issuers) - 1; i >= 0; i-- {
		k := s.issuers[i]
		if !t.Before(k.row.NotBefore) && !t.After(k.row.NotAfter) {
			return Signer{KID: k.kid, Key: k.priv, NotBefore: k.row.NotBefore, NotAfter: k.row.NotAfter}, nil
		}
	}
	return Signer{}, ErrNoKey
}

// sealKeyAt returns the seal key whose window contains t.
func (s *Service) sealKeyAt(t time.Time) (sealKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.seals) - 1; i >= 0; i-- {
		k := s.seals[i]
		if !t.Before(k.row.NotBefore) && !t.After(k.row.NotAfter) {
			return k, true
		}
	}
	return sealKey{}, false
}

// Published returns the issuer keys to publish at now: every key not yet
// signing (pre-published), the signing one, and retired ones until their
// last pass has expired.
func (s *Service) Published(now time.Time) []verify.IssuerKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]verify.IssuerKey, 0, len(s.issuers))
	for _, k := range s.issuers {
		if now.After(k.row.NotAfter.Add(s.retention())) {
			continue
		}
		out = append(out, verify.IssuerKey{KID: k.kid, Public: k.priv.Public().(ed25519.PublicKey), NotBefore: k.row.NotBefore, NotAfter: k.row.NotAfter})
	}
	return out
}

// PublishedSealKeys returns the seal keys a terminal with the offline
// grant needs at now, by the same rule as Published.
func (s *Service) PublishedSealKeys(now time.Time) []bundle.SealKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]bundle.SealKey, 0, len(s.seals))
	for _, k := range s.seals {
		if now.After(k.row.NotAfter.Add(s.retention())) {
			continue
		}
		out = append(out, bundle.SealKey{KID: k.row.KID, Key: slices.Clone(k.key)})
	}
	return out
}

// Trust returns what the server itself believes at now: the published
// issuer and seal keys. Revocations are the caller's to add (online they
// come from the database).
func (s *Service) Trust(now time.Time) *verify.Trust {
	t := &verify.Trust{IssuerKeys: s.Published(now), SealKeys: map[uint16][]byte{}}
	for _, k := range s.PublishedSealKeys(now) {
		t.SealKeys[k.KID] = k.Key
	}
	return t
}

// BundleInput is what a trust bundle carries besides the keys.
type BundleInput struct {
	RevokedCertificates []string // lowercase hex certificate ids
	RevokedDevices      [][]byte // SHA-256 of compressed device keys
	// WithSealKeys grants the seal keys (terminals with the offline grant).
	WithSealKeys bool
	// NextUpdate is how long until the terminal should fetch again.
	NextUpdate time.Duration
}

// Bundle signs a trust bundle issued now with the key signing now.
func (s *Service) Bundle(now time.Time, in BundleInput) ([]byte, error) {
	now = wholeSecond(now)
	signer, err := s.Signer(now)
	if err != nil {
		return nil, err
	}
	p := bundle.Payload{IssuedAt: now, NextUpdate: now.Add(in.NextUpdate), IssuerKeys: s.Published(now)}
	for _, id := range in.RevokedCertificates {
		var b [16]byte
		if n, err := hex.Decode(b[:], []byte(id)); err != nil || n != 16 {
			return nil, fmt.Errorf("keys: revoked certificate id %q is not 32 hex digits", id)
		}
		p.RevokedCertificates = append(p.RevokedCertificates, b)
	}
	for _, h := range in.RevokedDevices {
		if len(h) != 32 {
			return nil, fmt.Errorf("keys: revoked device hash of %d bytes", len(h))
		}
		p.RevokedDevices = append(p.RevokedDevices, [32]byte(h))
	}
	if in.WithSealKeys {
		p.SealKeys = s.PublishedSealKeys(now)
	}
	return bundle.Sign(p, signer.KID, signer.Key)
}

func wholeSecond(t time.Time) time.Time { return time.Unix(t.Unix(), 0).UTC() }

func ceilSecond(t time.Time) time.Time {
	w := wholeSecond(t)
	if w.Before(t) {
		w = w.Add(time.Second)
	}
	return w
}
