package load

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"tempid/internal/idnumber"
)

// Person is a synthetic passenger: an invented name and a valid, invented
// resident ID number. Nothing about a real person is ever generated.
type Person struct {
	Name     string
	IDNumber string
}

// provinceCodes are the province-level prefixes synthetic numbers use.
var provinceCodes = []string{
	"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
	"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
}

// birthBase and birthDays bound the birth dates of synthetic persons: adults
// born 1940–2005, so every number parses on any date after 2023.
var birthBase = time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC)

const birthDays = 24107 // 1940-01-01 to 2005-12-31

// PersonSpace is how many distinct synthetic persons PersonAt can make.
var PersonSpace = uint64(len(provinceCodes)) * birthDays * 1000

// PersonAt returns the i-th synthetic person (i modulo PersonSpace). Equal
// indices give equal persons, so runs that must not meet pick disjoint
// ranges (RandomOffset).
func PersonAt(i uint64) Person {
	i %= PersonSpace
	seq := int(i % 1000)
	rest := i / 1000
	day := int(rest % birthDays)
	prov := provinceCodes[(rest/birthDays)%uint64(len(provinceCodes))]
	n := idnumber.Generate(prov, birthBase.AddDate(0, 0, day), seq)
	// A plain, clearly synthetic name: the name is sealed and masked like a
	// real one, so its length matters more than its letters.
	return Person{Name: fmt.Sprintf("测试旅客%d", i%10000), IDNumber: n.String()}
}

// RandomOffset picks where a run starts in the person space, so that two
// runs against one database almost never share a person (with 10⁴
// persons per run, a collision takes about 10⁵ runs).
func RandomOffset() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) % PersonSpace
}
