package devcli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"tempid/internal/accounts"
	"tempid/internal/cli"
	"tempid/internal/idnumber"
	"tempid/internal/load"
	"tempid/internal/registry"
	"tempid/internal/store"
)

// maxSeed bounds one seeding run.
const maxSeed = 10_000_000

func runSeed(ctx context.Context, e *cli.Env, args []string) error {
	fs := cli.NewFlags(e, "seed")
	var sf cli.StorageFlags
	sf.Register(fs)
	n := fs.Int("certificates", 10000, "synthetic certificates to insert, one per distinct synthetic person")
	batch := fs.Int("batch", 5000, "certificates per transaction")
	days := fs.Int("days", 365, "spread issuance times over this many past days (the retention period)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > maxSeed || *batch < 1 || *batch > 100000 || *days < 1 || *days > 3650 {
		fmt.Fprintf(e.Stderr, "tempid-dev seed: --certificates 1..%d, --batch 1..100000, --days 1..3650\n", maxSeed)
		return cli.ErrUsage
	}
	fmt.Fprintln(e.Stderr, "tempid-dev seed: inserting SYNTHETIC certificates: for test and measurement databases only")
	// Demo rules for the key: the key file in the data directory is
	// created if there is none, as serve --demo does, so a seeded database
	// opens with serve --demo on the same flags.
	a, err := sf.OpenApp(ctx, e, true, registry.Development{})
	if err != nil {
		return err
	}
	st, keys, iss, acc, pol := a.Store, a.Accounts.PII, a.Issuance, a.Accounts, a.Policy
	defer st.Close()

	offset := load.RandomOffset()
	var secret [16]byte
	rand.Read(secret[:])
	owner, err := acc.SignUp(ctx, accounts.SignUp{
		Username: "seed-" + hex.EncodeToString(secret[:4]), Password: hex.EncodeToString(secret[4:]),
		Name: load.PersonAt(offset).Name, IDNumber: load.PersonAt(offset).IDNumber,
	})
	if err != nil {
		return fmt.Errorf("seed account: %w", err)
	}
	before, err := st.SizeBytes(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	start := now
	certs := make([]store.Certificate, 0, *batch)
	for done := 0; done < *n; {
		certs = certs[:0]
		for i := 0; i < *batch && done+len(certs) < *n; i++ {
			k := done + len(certs)
			p := load.PersonAt(offset + 1 + uint64(k))
			nr, err := idnumber.Parse(p.IDNumber, now)
			if err != nil {
				return err
			}
			// Spread over the retention period, oldest first, so the
			// newest day holds active certificates like a live system.
			issued := now.Add(-time.Duration(*n-k) * time.Duration(*days) * 24 * time.Hour / time.Duration(*n)).Truncate(time.Second)
			id := store.NewIDAt(issued)
			certs = append(certs, store.Certificate{
				ID: id, HolderIndex: iss.HolderIndex(nr), AccountID: owner.ID, FaceCheckID: store.NewIDAt(issued),
				NameCT:     keys.SealString(p.Name, "certificate.name:"+id),
				IDNumberCT: keys.SealString(nr.String(), "certificate.id_number:"+id),
				NameMasked: idnumber.MaskName(p.Name), IDMasked: nr.Masked(), CityCode: "110100",
				IssuedAt: issued, ExpiresAt: issued.Add(pol.CertificateValidity),
			})
		}
		if err := st.SeedCertificates(ctx, store.CLI, certs, time.Now()); err != nil {
			return fmt.Errorf("after %d certificates: %w", done, err)
		}
		done += len(certs)
		el := time.Since(start).Seconds()
		fmt.Fprintf(e.Stderr, "seeded %d/%d certificates (%.0f/s)\n", done, *n, float64(done)/el)
	}
	elapsed := time.Since(start)
	after, err := st.SizeBytes(ctx)
	if err != nil {
		return err
	}
	total, err := st.CountCertificates(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "seeded %d certificates in %.1fs (%.0f/s) on %s; %d certificates in the database\n",
		*n, elapsed.Seconds(), float64(*n)/elapsed.Seconds(), st.Dialect(), total)
	fmt.Fprintf(e.Stdout, "database size %d bytes (grew by %d): %.0f bytes per seeded certificate\n",
		after, after-before, float64(after-before)/float64(*n))
	return nil
}
