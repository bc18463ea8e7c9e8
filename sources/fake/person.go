package fake

import (
	"fmt"
	"strings"
)

var firstNames = []string{"Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger",
	"Radia", "Tim", "Shafi", "Leslie", "Hedy", "John", "Katherine", "Niklaus", "Sophie", "Guido"}

var lastNames = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra",
	"Perlman", "Berners-Lee", "Goldwasser", "Lamport", "Lamarr", "Backus", "Johnson", "Wirth", "Wilson", "Rossum"}

var domains = []string{"example.com", "example.org", "example.net", "corp.example", "acme.example"}

var words = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut
labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo
consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat
cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum`)

// rng is splitmix64: tiny, fast and deterministic across platforms.
type rng struct{ state uint64 }

func (r *rng) next() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func seedFor(parts ...uint64) *rng {
	r := &rng{state: 0x6A09E667F3BCC908}
	for _, p := range parts {
		r.state ^= p
		r.next()
	}
	return r
}

// person generates person i of department d. Nothing but the seed, the
// department, the index and (for changed persons) the revision goes in, so the
// same person looks the same whatever the amount, page size or latency.
func (f *Source) person(di int, d department, i int) map[string]any {
	r := seedFor(uint64(f.s.Seed), uint64(di), uint64(i))
	letters := string([]byte{byte('A' + r.intn(26)), byte('A' + r.intn(26))})
	first := firstNames[r.intn(len(firstNames))]
	last := lastNames[r.intn(len(lastNames))]
	age := 20 + r.intn(81)
	status := "WORKING"
	if r.intn(3) == 0 {
		status = "NOPE"
	}
	domain := domains[seedFor(uint64(f.s.Seed), uint64(di)).intn(len(domains))]
	bioSeed := r.next()
	changed := f.changed(di, i)
	if changed {
		age = 20 + (age-20+f.s.Revision)%81
	}
	bio := f.bio(bioSeed, changed)
	return map[string]any{
		"id":         fmt.Sprintf("%s%d%07d", letters, di, i),
		"name":       first + " " + last,
		"email":      strings.ToLower(first+"."+last) + fmt.Sprintf("%d@", i) + domain,
		"age":        float64(age),
		"status":     status,
		"department": map[string]any{"id": d.id, "name": d.name},
		"bio":        bio,
	}
}

// changed reports whether person i is one of the changedPercent share that
// differs in the current revision.
func (f *Source) changed(di, i int) bool {
	if f.s.Revision == 0 || f.s.ChangedPercent == 0 {
		return false
	}
	r := seedFor(uint64(f.s.Seed), 0xC4A96E, uint64(di), uint64(i))
	return r.intn(100) < f.s.ChangedPercent
}

// bio returns a person's bio: whole words of the source's corpus, at most
// entityKbSize KiB, starting at a place the seed picks. Slicing one corpus
// keeps the generator cheap, so benchmarks measure the resync, not it.
func (f *Source) bio(seed uint64, changed bool) string {
	size := f.s.EntityKBSize * 1024
	prefix := ""
	if changed {
		prefix = fmt.Sprintf("[revision %d] ", f.s.Revision)
		size -= len(prefix)
	}
	c := f.corpus
	start := int(seed % uint64(len(c)-size))
	if sp := strings.IndexByte(c[start:], ' '); sp >= 0 && start+sp+1 < len(c)-size {
		start += sp + 1
	}
	end := start + size
	if sp := strings.LastIndexByte(c[start:end], ' '); sp > 0 {
		end = start + sp
	}
	return prefix + c[start:end]
}

// newCorpus returns the text bios are cut from: seeded words, several times
// longer than one bio.
func newCorpus(seed int64, bioSize int) string {
	size := max(64<<10, 4*bioSize)
	r := seedFor(uint64(seed), 0xB10)
	var b strings.Builder
	b.Grow(size + 16)
	for b.Len() < size {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.intn(len(words))])
	}
	return b.String()
}

// ChangedPersons is how many persons the current revision changes, so a
// benchmark can check that a resync sent exactly those.
func (f *Source) ChangedPersons() int {
	n := 0
	for di := range f.departments() {
		for i := range f.s.EntityAmount {
			if f.changed(di, i) {
				n++
			}
		}
	}
	return n
}
